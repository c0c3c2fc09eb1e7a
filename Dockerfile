# The same install as the README: the package with the embedded models, served by `copyforge serve`.
# Auth stays on (it binds 0.0.0.0): create keys with `docker exec <id> copyforge keys create ...`.
FROM python:3.11-slim

# llama-cpp-python compiles llama.cpp from source (about five minutes on two cores).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/copyforge
COPY pyproject.toml README.md ./
COPY app ./app
COPY prompts ./prompts
COPY alembic ./alembic
RUN pip install --no-cache-dir '.[local,postgres,redis]'

ENV COPYFORGE_HOST=0.0.0.0 \
    COPYFORGE_PORT=8000 \
    COPYFORGE_DATABASE_URL=sqlite:////data/copyforge.db
VOLUME /data
EXPOSE 8000
CMD ["copyforge", "serve"]
