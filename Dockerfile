# mixbot image: `mixbot serve --forever` (every bot in config/trading/, one process each) and the
# web GUI on port 5000. Build and run it with compose.yaml (PostgreSQL store, volumes, secrets).
#
# TA-Lib needs no C build here: the pinned PyPI wheel TA-Lib==0.8.2 is a manylinux wheel
# (cp311-cp311-manylinux_2_28_x86_64 / manylinux2014) that bundles the TA-Lib C library
# (ta_lib.libs/libta-lib-*.so next to talib/_ta_lib.cpython-311-x86_64-linux-gnu.so), so plain
# `pip install` is enough on this glibc-based image. (Alpine/musl images would need a C build.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# dependencies first: this layer is rebuilt only when requirements.txt changes
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The source tree keeps its layout under /app: the package finds the web GUI's files in the
# top-level webgui/ folder relative to src/mixbot (src/mixbot/../../webgui), hence the editable
# install. Secrets (.env) are never copied into the image: see .dockerignore and compose.yaml.
COPY pyproject.toml README.md ./
COPY src/ src/
COPY webgui/ webgui/
COPY config/ config/
RUN pip install --no-deps -e . \
    && groupadd --system --gid 10001 mixbot \
    && useradd --system --uid 10001 --gid mixbot --home-dir /app --no-create-home --shell /usr/sbin/nologin mixbot \
    && mkdir -p data logs reports \
    && chown -R mixbot:mixbot data logs reports config

# An unprivileged user, uid/gid 10001: give it the bind-mounted config/, logs/ and reports/
# (`chown -R 10001:10001 config logs reports`). Market data is read from the /data volume; the
# store is PostgreSQL (MIXBOT_DATABASE_URL, set by compose.yaml).
USER mixbot
ENV MIXBOT_DATA=/data \
    MPLCONFIGDIR=/tmp/matplotlib

EXPOSE 5000
# SIGTERM: every bot stops after its current bar, all within stop_timeout_s (10 s by default)
STOPSIGNAL SIGTERM

# A non-loopback bind (0.0.0.0) is refused unless MIXBOT_WEB_SECRET (32+ characters) is set and
# the settings file (/app/config/mixbot.json, mounted by compose.yaml) defines a web user.
CMD ["mixbot", "serve", "--forever", "--host", "0.0.0.0", "--port", "5000", "config/trading/"]
