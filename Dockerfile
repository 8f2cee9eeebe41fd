# camhub on home hardware: Debian's Python, camhub installed into a venv as
# README.md's install does, run as an unprivileged user.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md /src/
COPY hub /src/hub
COPY integrations /src/integrations
COPY web /src/web
RUN python3 -m venv /opt/camhub \
 && /opt/camhub/bin/pip install /src \
 && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin camhub \
 && mkdir -p /config /data \
 && chown camhub:camhub /config /data
COPY --chown=camhub:camhub config/camhub.example.yaml /config/camhub.yaml

ENV PATH=/opt/camhub/bin:$PATH
USER camhub
WORKDIR /data
VOLUME ["/config", "/data"]
EXPOSE 8971
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8971/api/health', timeout=4)" || exit 1
CMD ["camhub", "run", "-c", "/config/camhub.yaml"]
