FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml ./
COPY api ./api
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY adapters ./adapters
COPY migrations ./migrations
COPY temporal-config ./temporal-config
COPY worker.py cli.py settings.py alembic.ini ./
RUN pip install --no-cache-dir . && useradd --system souls
USER souls
EXPOSE 8000
CMD ["python", "-m", "api"]
