"""The region drawn from files shipped with the package: country outlines and place coordinates.

``outlines.csv``: Natural Earth 1:110m country outlines of Syria and its neighbours (source in its header).
``places.csv``: one point per host country (its capital) and Syrian region (its governorate capital or main
town), with the GeoNames id it comes from. A point outside the map's view (Europe) is drawn at the edge.

>>> p = places()
>>> sorted(p.loc[p.kind == "host", "place"])[:3]
['egypt', 'europe', 'iraq']
>>> round(float(p.set_index("place").at["damascus", "lat"]), 2)
33.51
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

#: the map's view, degrees: (west, east), (south, north)
VIEW_LON = (25.0, 48.5)
VIEW_LAT = (27.5, 42.5)
#: countries named on the map (the others are drawn but not named)
NAMED = ("Syria", "Turkey", "Iraq", "Jordan", "Egypt", "Saudi Arabia", "Iran")


def _read(name: str) -> pd.DataFrame:
    with resources.files("returnsim.dashboard").joinpath(name).open(encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


@cache
def places() -> pd.DataFrame:
    """Place coordinates: ``place``, ``kind`` (host/region), ``lat``, ``lon``, ``point`` (what the point is),
    ``source``."""
    return _read("places.csv")


@cache
def outlines() -> pd.DataFrame:
    """Country outline vertices: ``country``, ``part``, ``lon``, ``lat``."""
    return _read("outlines.csv")


def patches() -> tuple[list[str], list[list[float]], list[list[float]]]:
    """Each outline part as ``(countries, xs, ys)``, ready for a patches glyph."""
    countries, xs, ys = [], [], []
    for (country, _part), df in outlines().groupby(["country", "part"], sort=False):
        countries.append(country)
        xs.append(df["lon"].tolist())
        ys.append(df["lat"].tolist())
    return countries, xs, ys


def _centroid(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """Area centroid of a closed ring (shoelace formula)."""
    cross = lon[:-1] * lat[1:] - lon[1:] * lat[:-1]
    area = cross.sum() / 2
    if abs(area) < 1e-12:
        return float(lon.mean()), float(lat.mean())
    cx = ((lon[:-1] + lon[1:]) * cross).sum() / (6 * area)
    cy = ((lat[:-1] + lat[1:]) * cross).sum() / (6 * area)
    return float(cx), float(cy)


def country_labels() -> pd.DataFrame:
    """Where to write the names of :data:`NAMED` countries: the centroid of each one's largest part in view."""
    rows = []
    for country, df in outlines().groupby("country", sort=False):
        if country not in NAMED:
            continue
        part = df.groupby("part").size().idxmax()
        ring = df[df["part"] == part]
        x, y = _centroid(ring["lon"].to_numpy(), ring["lat"].to_numpy())
        rows.append({"country": country, "lon": x, "lat": y})
    return pd.DataFrame(rows)


def in_view(lon: np.ndarray, lat: np.ndarray, margin: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates clamped into the view (``margin`` degrees inside its edges), and which points were moved."""
    x = np.clip(lon, VIEW_LON[0] + margin, VIEW_LON[1] - margin)
    y = np.clip(lat, VIEW_LAT[0] + margin, VIEW_LAT[1] - margin)
    return x, y, (x != lon) | (y != lat)
