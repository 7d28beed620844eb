from __future__ import annotations

from tests.support.leaks import find_leaks


def test_a_secret_in_a_response_or_log_is_found() -> None:
    responses = [("/axon/accounts/1", '{"credentials":{"hasPassword":true}}'), ("/axon/accounts", '{"pw":"hunter22"}')]
    leaks = find_leaks(responses, ["login for hunter22 failed"], {"hunter22"}, ("/credentials/reveal",))
    assert leaks == [("/axon/accounts", "hunter22"), ("log", "hunter22")]


def test_reveal_endpoints_may_answer_with_secrets() -> None:
    responses = [("/axon/accounts/1/credentials/reveal", '{"password":"hunter22"}')]
    assert find_leaks(responses, [], {"hunter22"}, ("/credentials/reveal",)) == []
