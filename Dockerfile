FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY workers workers
COPY schemas schemas
COPY configs configs
RUN pip install --no-cache-dir .
ENV KAZI_VAR_DIR=/var/lib/kazi
CMD ["kazi", "serve", "--host", "0.0.0.0"]
