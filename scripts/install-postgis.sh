#!/bin/sh
# Install Debian's PostgreSQL 15 with PostGIS 3 (postgresql-15-postgis-3): the real server the PostGIS tests
# start, throwaway, for each test session (tests/pg_server.py). Used by the README's test command (and .ci/run).
# Does nothing when a PostgreSQL server with the PostGIS extension is already installed.
set -e
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt-install.sh" "the PostGIS tests (or set ODGEO_SKIP_POSTGIS=1 to skip them)" \
    postgresql-15 postgresql-15-postgis-3
