FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
# The locked versions (hashes checked), then Kazi itself without resolving anything again.
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY engine engine
COPY workers workers
COPY schemas schemas
COPY configs configs
RUN pip install --no-cache-dir --no-deps .
ENV KAZI_VAR_DIR=/var/lib/kazi
CMD ["kazi", "serve", "--host", "0.0.0.0"]
