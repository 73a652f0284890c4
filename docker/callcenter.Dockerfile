# The service. The image holds no configuration and no secret of its own: give it yours, e.g.
#   docker run --network host \
#     -v /etc/callcenter/callcenter.toml:/etc/callcenter/callcenter.toml:ro IMAGE
# (your file, from config/callcenter.example.toml with your AMI secret and database URL), or
# set CALLCENTER_* variables (README, Configuration). Without either it stops at once with
# "file not found". `callcenter serve` refuses the example secrets shipped in config/ and
# docker-compose.yml unless started with --demo.
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
# Relative paths of the configuration (the SQLite file, the records spool) land here.
WORKDIR /var/lib/callcenter
ENV CALLCENTER_CONFIG=/etc/callcenter/callcenter.toml
EXPOSE 8080 4573
CMD ["callcenter", "serve"]
