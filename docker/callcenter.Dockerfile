FROM python:3.11-slim-bookworm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# Every dependency as locked, each file checked against its hash (bash scripts/lock.sh updates
# the lock); then the project itself, with nothing more fetched.
COPY requirements/runtime.lock requirements/
RUN pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
RUN pip install --no-deps --no-build-isolation . && rm -rf build
COPY config ./config
EXPOSE 8080 4573
CMD ["callcenter", "serve", "--config", "/app/config/callcenter.example.toml"]
