# One image for every Python service; the command picks the service.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY common common
COPY producers producers
COPY control control
COPY streams streams
COPY projections projections
COPY sinks sinks
COPY pullers pullers
COPY schemas schemas
COPY stack stack
COPY ops ops
COPY bench bench
RUN pip install .
RUN useradd --system --home /app app && mkdir -p /data && chown app /data
USER app
EXPOSE 8000 8001
CMD ["python", "-m", "producers"]
