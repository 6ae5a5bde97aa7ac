# Storefront: the shop served by gunicorn. Configuration comes from the environment
# (see .env.example); production needs SECRET_KEY and DATABASE_URL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    STOREFRONT_ENV=production \
    PORT=8000

RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin storefront

# The app reads templates/ and static/ next to the package, so the source stays in /app and the
# package is installed in editable mode. Dependencies come first, in their own cached layer.
WORKDIR /app
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
    && mkdir -p instance \
    && chown storefront:storefront instance

USER storefront
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"

# Migrations first (idempotent), then gunicorn replaces the shell so it receives SIGTERM.
CMD ["sh", "-c", "flask --app storefront db upgrade && exec gunicorn --config gunicorn.conf.py wsgi:app"]
