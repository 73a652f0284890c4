FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
RUN pip install --no-cache-dir .
COPY config ./config
EXPOSE 8080 4573
CMD ["callcenter", "serve", "--config", "/app/config/callcenter.example.toml"]
