"""odgeo and PostGIS beside geopandas' read_postgis / to_postgis, on a throwaway local server.

    .venv/bin/pip install -e '.[bench]'      # SQLAlchemy and GeoAlchemy2, geopandas' PostGIS peers
    .venv/bin/python benchmarks/postgis_benchmark.py [--n 1000000]

Starts a server like the tests do (tests/pg_server.py), loads N synthetic incidents into a table
with a point geometry, then times, each in a child process of its own (wall time after the imports,
which every child makes alike, and peak memory):

- reading them: odgeo's ``read_incidents(url, table=...)`` (COPY out, then the same validation as a
  file), odgeo's COPY step alone, and ``geopandas.read_postgis`` with defaults;
- writing the products of ``odgeo hotspots`` on them back: odgeo's one-transaction COPY of every
  product and run.json, beside ``GeoDataFrame.to_postgis`` / ``DataFrame.to_sql`` (defaults) of the
  same files;
- what COPY gains over INSERT: the same product rows (a 200,000-feature point layer) by COPY and
  by psycopg's ``executemany`` INSERT (pipelined), and by geopandas' default ``to_postgis``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run_benchmarks import city_points, table  # noqa: E402

from tests.pg_server import PASSWORD, ThrowawayServer  # noqa: E402

_CHILD = """
import json, os, resource, sys, time
import geoalchemy2, geopandas, pandas, psycopg, pyogrio, shapely, sqlalchemy  # imports are not timed
import odgeo.incidents.read, odgeo.io.postgis
os.environ["PGPASSWORD"] = {password!r}
start = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - start,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "n": n}}))
"""

_BODIES = {
    "odgeo read": "from odgeo.incidents.read import read_incidents\n"
                  "read = read_incidents({url!r}, table='incidents', timezone='America/Chicago')\n"
                  "n = read.n_located",
    "odgeo COPY only": "from odgeo.incidents.database import read_database\n"
                       "n = len(read_database({url!r}, table='incidents').data)",
    "geopandas.read_postgis": "import geopandas as gpd, sqlalchemy\n"
                              "engine = sqlalchemy.create_engine({sa_url!r})\n"
                              "n = len(gpd.read_postgis('SELECT * FROM incidents', engine, geom_col='geom'))",
    "odgeo write": "from pathlib import Path\nfrom odgeo.io.postgis import PostgisDestination\n"
                   "files = sorted(Path({out!r}).iterdir())\n"
                   "n = len(PostgisDestination.open({url!r}, schema='bench_odgeo').publish(files, 'hotspots'))",
    "geopandas to_postgis": "from pathlib import Path\nimport geopandas as gpd, pandas as pd, sqlalchemy\n"
                            "engine = sqlalchemy.create_engine({sa_url!r})\n"
                            "n = 0\n"
                            "for p in sorted(Path({out!r}).iterdir()):\n"
                            "    if p.suffix == '.geojson':\n"
                            "        gpd.read_file(p).to_postgis(p.stem, engine, if_exists='replace')\n"
                            "    elif p.suffix == '.csv':\n"
                            "        pd.read_csv(p).to_sql(p.stem, engine, if_exists='replace')\n"
                            "    else:\n"
                            "        continue\n"
                            "    n += 1",
    "COPY (odgeo)": "from pathlib import Path\nfrom odgeo.io.postgis import PostgisDestination\n"
                    "dest = PostgisDestination.open({url!r}, schema='bench_copy')\n"
                    "n = len(dest.publish([Path({layer!r})], 'bench'))",
    "INSERT executemany": "from pathlib import Path\nimport psycopg\nfrom psycopg import sql\n"
                          "from odgeo.io.postgis import _read_product\n"
                          "product = _read_product(Path({layer!r}))\n"
                          "rows = list(zip(*(product.data[c] for c, _ in product.columns)))\n"
                          "with psycopg.connect({url!r}) as conn:\n"
                          "    conn.execute('CREATE SCHEMA IF NOT EXISTS bench_insert')\n"
                          "    cols = [('run_id', 'text'), ('position', 'integer'), *product.columns]\n"
                          "    conn.execute(sql.SQL('DROP TABLE IF EXISTS bench_insert.layer'))\n"
                          "    conn.execute(sql.SQL('CREATE TABLE bench_insert.layer ({{}})').format(sql.SQL(', ')"
                          ".join(sql.SQL('{{}} {{}}').format(sql.Identifier(c), sql.SQL(t)) for c, t in cols)))\n"
                          "    marks = sql.SQL(', ').join(sql.Placeholder() * len(cols))\n"
                          "    with conn.cursor() as cur:\n"
                          "        cur.executemany(sql.SQL('INSERT INTO bench_insert.layer VALUES ({{}})')"
                          ".format(marks), [('r', i, *row) for i, row in enumerate(rows, 1)])\n"
                          "n = len(rows)",
    "geopandas to_postgis (layer)": "import geopandas as gpd, sqlalchemy\n"
                                    "engine = sqlalchemy.create_engine({sa_url!r})\n"
                                    "frame = gpd.read_file({layer!r})\n"
                                    "frame.to_postgis('layer', engine, schema='public', if_exists='replace')\n"
                                    "n = len(frame)",
}


def child(name: str, **values) -> dict:
    code = _CHILD.format(password=PASSWORD, body=_BODIES[name].format(**values))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"seconds": None, "peak_mb": None, "note": done.stderr.strip().splitlines()[-1][:90]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def load(url: str, n: int) -> float:
    """N incidents into a table with a point geometry, by COPY; seconds taken."""
    import psycopg

    lon, lat = city_points(n, seed=3)
    rng = np.random.default_rng(3)
    minutes = rng.integers(0, 730 * 24 * 60, n)
    times = (np.datetime64("2024-01-01T00:00") + minutes.astype("timedelta64[m]")).astype(str)
    outcome = np.where(rng.random(n) < 0.1, "fatal", "nonfatal")
    lines = "".join(f"EMS-{i},{times[i]},{outcome[i]},SRID=4326;POINT({lon[i]:.6f} {lat[i]:.6f})\n" for i in range(n))
    start = time.perf_counter()
    with psycopg.connect(url, password=PASSWORD) as conn:
        conn.execute("CREATE TABLE incidents (incident_id text PRIMARY KEY, occurred_at timestamp, outcome text, "
                     "geom geometry(Point, 4326))")
        with conn.cursor().copy("COPY incidents FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(lines)
        conn.execute("ANALYZE incidents")
    return time.perf_counter() - start


def point_layer(path: Path, n: int) -> Path:
    """A product-like GeoJSON of n points with a few columns (a restricted layer's size)."""
    lon, lat = city_points(n, seed=5)
    features = [{"type": "Feature", "properties": {"cell": f"c{i}", "count": int(i % 97), "rate": i / 7},
                 "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]}}
                for i, (x, y) in enumerate(zip(lon, lat))]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _fmt(row: dict) -> list[str]:
    s, mb = row.get("seconds"), row.get("peak_mb")
    return [f"{s:.2f}" if s is not None else "-", f"{mb:.0f}" if mb is not None else "-"]


def _ratio(peer: dict, ours: dict) -> str:
    if peer.get("seconds") and ours.get("seconds"):
        return f"{peer['seconds'] / ours['seconds']:.1f}x"
    return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="incidents in the table (default 1,000,000)")
    parser.add_argument("--layer", type=int, default=200_000, help="features of the COPY/INSERT layer")
    args = parser.parse_args()
    server = ThrowawayServer().start()
    try:
        url = server.create_database("bench")
        sa_url = url.replace("postgresql://", "postgresql+psycopg://").replace("odgeo@", f"odgeo:{PASSWORD}@")
        print(f"loaded {args.n:,} incidents by COPY in {load(url, args.n):.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            run = subprocess.run([sys.executable, "-m", "odgeo_cli", "-q", "hotspots", url, "--table", "incidents",
                                  "--timezone", "America/Chicago", "--out", str(out)],
                                 capture_output=True, text=True, env={**server.psql_env()})
            if run.returncode != 0:
                raise SystemExit(f"odgeo hotspots from the database failed: {run.stderr}")
            reads = {name: child(name, url=url, sa_url=sa_url)
                     for name in ("odgeo read", "odgeo COPY only", "geopandas.read_postgis")}
            peer = reads["geopandas.read_postgis"]
            table(f"Reading {args.n:,} incidents (point geometry) from PostGIS",
                  ["reader", "s", "peak MB", "rows", "geopandas / this"],
                  [[k, *_fmt(v), f"{v.get('n', 0):,}", _ratio(peer, v)] for k, v in reads.items()])
            writes = {name: child(name, url=url, sa_url=sa_url, out=str(out))
                      for name in ("odgeo write", "geopandas to_postgis")}
            sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out.iterdir())
                              if p.suffix in (".geojson", ".csv"))
            table(f"Writing the products of that run ({sizes})", ["writer", "s", "peak MB", "tables",
                                                                  "geopandas / odgeo"],
                  [[k, *_fmt(v), v.get("n", "-"), _ratio(writes["geopandas to_postgis"], v)]
                   for k, v in writes.items()])
            layer = str(point_layer(Path(tmp) / "layer.geojson", args.layer))
            copies = {name: child(name, url=url, sa_url=sa_url, layer=layer)
                      for name in ("COPY (odgeo)", "INSERT executemany", "geopandas to_postgis (layer)")}
            table(f"COPY beside INSERT: one {args.layer:,}-point product table (read from GeoJSON, written)",
                  ["method", "s", "peak MB", "this / COPY"],
                  [[k, *_fmt(v), _ratio(v, copies["COPY (odgeo)"])] for k, v in copies.items()])
    finally:
        server.stop()


if __name__ == "__main__":
    main()
