"""Is Temporal answering, and is a worker polling a task queue right now?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client

_TIMEOUT = timedelta(seconds=3)


async def server_reachable(client: Client) -> None:
    await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=_TIMEOUT)


async def fresh_pollers(client: Client, task_queue: str, freshness_s: float) -> int:
    """Number of workflow pollers the server saw within `freshness_s` seconds."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=_TIMEOUT,
    )
    cutoff = datetime.now(UTC) - timedelta(seconds=freshness_s)
    return sum(1 for p in response.pollers if p.last_access_time.ToDatetime(tzinfo=UTC) >= cutoff)
