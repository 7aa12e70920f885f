#!/usr/bin/python3
"""Synthetic forecasts with Holland (1980) vortices on known paths, and the
best track of those storms as NCEI writes IBTrACS, for tests/track_test.sh.

Holland (1980): p(r) = pc + dp exp(-(Rmax/r)^B); gradient wind
V(r) = sqrt(B dp / rho (Rmax/r)^B exp(-(Rmax/r)^B) + (r f / 2)^2) - r |f| / 2,
cyclonic in the vortex's hemisphere; 850 hPa wind 0.9 V, 10 m wind 0.8 V;
z850 and z200 carry a warm (or cold) core thickness anomaly of 300 km
e-folding radius. The same fields as tests/test_track.c builds in C.

The forecast file is in pangu's CF layout as pangu forecast writes it
since 2026-12 (docs/forecast-files.md: time(time) the valid time in hours
since the initial time, forecast_period(time), a scalar
forecast_reference_time; z t u v on (time, level, latitude, longitude) at
850 and 200 hPa, msl u10 v10 on (time, latitude, longitude)), a subset of
pangu's variables as eval reads them; the ensemble file in the layout
before (member(member), forecast_period(step), time(step)). The best track: the names
and units lines of tests/fixtures/ibtracs_v04r01_head.csv (NCEI's, verbatim)
and 3-hourly records, blanks as NCEI writes them (one space).

Usage: track_synth.py OUTDIR FIXTURE_HEAD
  OUTDIR/fc_2018102500.nc   forecast from 2018-10-25 00 UTC, leads 0..72 h every 12 h, 0.5 degree grid
  OUTDIR/ens_2018102500.nc  the same as a two-member ensemble in the older layout (member 1: ALPHA one degree
                            further north)
  OUTDIR/fc_pl_2018102500.nc, OUTDIR/fc_sfc_2018102500.nc  the forecast split into pressure-level and
                            single-level files on a valid-time axis time(time)
  OUTDIR/fc13_2018102500.nc lead 0 alone, z q t u v at 13 levels and msl u10 v10 t2m, uncompressed
  OUTDIR/ibtracs.csv        best track of the storms
  OUTDIR/lsm.nc             land-sea mask (lsm: land 90-104 E, 10-26 N)
  OUTDIR/truth.csv          sid,lead_hours,lat,lon of every storm at every lead
"""
import sys
from datetime import datetime, timedelta

import numpy as np
from netCDF4 import Dataset

R_EARTH = 6371e3
INIT = datetime(2018, 10, 25, 0)
LEADS = list(range(0, 73, 12))  # lead 0 too: the centre at the initial time is tracked as well

# sid, name, basin, lat0, lon0, dlat/h, dlon/h, dp0 (hPa), hour dp reaches 0 (0: never), Rmax (km), B, core (m), nature
STORMS = [
    ("2018298N15140", "ALPHA", "WP", 15.0, 140.0, 0.05, -0.12, 40, 0, 60, 1.5, 60, "TS"),
    ("2018298S15176", "BRAVO", "SP", -15.0, 176.0, -0.04, 0.12, 35, 0, 60, 1.5, 60, "TS"),  # across the date line
    ("2018298N20300", "CHARLIE", "NA", 20.0, -60.0, 0.0, -0.05, 30, 36, 60, 1.5, 60, "TS"),  # dies at 36 h
    ("2018298N18100", "DELTA", "NI", 18.0, 100.0, 0.0, 0.1, 1.2, 0, 150, 1.5, 40, "TS"),  # weak, onto land at 102 E
    ("2018298N25030", "ECHO", "NA", 25.0, 330.0, 0.0, -0.1, 30, 0, 60, 1.5, 60, "ET"),  # not tropical at the start
    ("2018298N33160", "FOXTROT", "WP", 33.0, 160.0, 0.03, 0.1, 35, 0, 60, 1.5, 80, "TS"),  # warm core poleward of 30
    ("2018298N33200", "GOLF", "EP", 33.0, 200.0, 0.03, 0.1, 35, 0, 60, 1.5, -80, "TS"),  # cold core poleward of 30
]
# a broad, weak cold-core low 4 degrees west of CHARLIE (no best track)
LOW = (20.0, -64.0, 0.0, 0.0, 4, 0, 800, 1.0, -40)


def position(s, hour):
    lat0, lon0, dlat, dlon, dp0, dp_end = s[:6]
    dp = dp0 * (max(0.0, 1 - hour / dp_end) if dp_end > 0 else 1.0)
    return lat0 + dlat * hour, (lon0 + dlon * hour) % 360.0, dp


def fields(lat, lon, hour):
    la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
    p = np.full(la.shape, 101000.0)
    u = np.zeros(la.shape)
    v = np.zeros(la.shape)
    thick = 9000.0 + 1500.0 * np.cos(la)
    for s in [st[3:12] for st in STORMS] + [LOW]:
        clat, clon, dp = position(s, hour)
        rmax, b, core = s[6] * 1e3, s[7], s[8]
        c1, c2 = np.radians(clat), np.radians(clon)
        a = np.sin((la - c1) / 2) ** 2 + np.cos(c1) * np.cos(la) * np.sin((lo - c2) / 2) ** 2
        r = 2 * R_EARTH * np.arcsin(np.sqrt(np.minimum(a, 1)))
        thick += core * np.exp(-((r / 3e5) ** 2))
        if dp <= 0:
            continue
        x = (rmax / np.maximum(r, 1)) ** b  # at the centre itself (r < 1 m) the full deficit and no wind
        p -= dp * 100 * np.where(r < 1, 1.0, 1 - np.exp(-x))
        f = abs(2 * 7.292e-5 * np.sin(c1))
        V = np.sqrt(b * dp * 100 / 1.15 * np.where(r < 1, 0, x * np.exp(-x)) + (r * f / 2) ** 2) - r * f / 2
        az = np.arctan2(np.sin(lo - c2) * np.cos(la), np.cos(c1) * np.sin(la) - np.sin(c1) * np.cos(la) * np.cos(lo - c2))
        beta = az + (-np.pi / 2 if clat >= 0 else np.pi / 2)
        u += V * np.sin(beta)
        v += V * np.cos(beta)
    return p, u, v, thick


def coords(nc, lat, lon):
    for name, vals, units in (("latitude", lat, "degrees_north"), ("longitude", lon, "degrees_east")):
        nc.createDimension(name, vals.size)
        c = nc.createVariable(name, "f8", (name,))
        c.standard_name, c.units = name, units
        c[:] = vals


def times(nc, lead_dim, layout):
    """valid times on lead_dim, the initial time as a scalar. layout "cf": pangu's layout since 2026-12 (CF's
    forecast form, docs/forecast-files.md): time(time) in hours since the initial time, forecast_period(time);
    "step": the older forecast_period(step) with time(step) in hours since 1900; "valid": time only"""
    init_h = (INIT - datetime(1900, 1, 1)).total_seconds() / 3600
    t = nc.createVariable("time", "f8", (lead_dim,))
    t.standard_name, t.calendar = "time", "proleptic_gregorian"
    if layout == "cf":
        t.units = INIT.strftime("hours since %Y-%m-%d %H:%M:%S")
        t[:] = LEADS
    else:
        t.units = "hours since 1900-01-01 00:00:00"
        t[:] = [init_h + h for h in LEADS]
    if layout != "valid":
        fp = nc.createVariable("forecast_period", "f8", (lead_dim,))
        fp.standard_name, fp.units = "forecast_period", "hours"
        fp[:] = LEADS
    frt = nc.createVariable("forecast_reference_time", "f8", ())
    frt.standard_name, frt.calendar = "forecast_reference_time", "proleptic_gregorian"
    frt.units = t.units
    frt.assignValue(0 if layout == "cf" else init_h)


def levels(nc):
    nc.createDimension("level", 2)
    lev = nc.createVariable("level", "f4", ("level",))
    lev.standard_name, lev.units, lev.positive = "air_pressure", "hPa", "down"
    lev[:] = [850, 200]


UNITS = {"z": "m**2 s**-2", "t": "K", "u": "m s**-1", "v": "m s**-1", "msl": "Pa", "u10": "m s**-1", "v10": "m s**-1",
         "q": "kg kg**-1", "t2m": "K"}
UPPER = ("z", "q", "t", "u", "v")


def step_values(lat, lon, h, shift):
    """z t u v (2 levels each) and msl u10 v10 at lead h; shift: ALPHA's latitude moved by this (degrees)"""
    STORMS[0] = STORMS[0][:3] + (15.0 + shift,) + STORMS[0][4:]
    p, u, v, thick = fields(lat, lon, h)
    STORMS[0] = STORMS[0][:3] + (15.0,) + STORMS[0][4:]
    g = 9.80665
    z850 = np.full(p.shape, 1500 * g)
    zero = np.zeros(p.shape)
    # t at 850 and 200 hPa whose layer mean gives the same thickness by the hypsometric equation
    tmean = thick * g / (287.05 * np.log(850 / 200))
    return {"z": (z850, z850 + thick * g), "t": (tmean + 34.0, tmean - 34.0), "u": (0.9 * u, zero), "v": (0.9 * v, zero),
            "msl": p, "u10": 0.8 * u, "v10": 0.8 * v, "q": (zero + 0.01, zero + 1e-5), "t2m": zero + 300.0}


def write_forecasts(out, lat, lon):
    """fc_2018102500.nc (pangu's CF layout), ens_2018102500.nc (two members on member(member), the second with
    ALPHA one degree further north), fc_pl_2018102500.nc and fc_sfc_2018102500.nc (a forecast split into
    pressure-level and single-level files on a valid-time axis, as users hold numerical forecasts, with q and
    t2m as well)"""
    det = Dataset(out + "/fc_2018102500.nc", "w", format="NETCDF4")
    ens = Dataset(out + "/ens_2018102500.nc", "w", format="NETCDF4")
    pl = Dataset(out + "/fc_pl_2018102500.nc", "w", format="NETCDF4")
    sfc = Dataset(out + "/fc_sfc_2018102500.nc", "w", format="NETCDF4")
    var = {}
    for nc, lead_dim, member in ((det, "time", False), (ens, "step", True), (pl, "time", False), (sfc, "time", False)):
        nc.Conventions = "CF-1.8"
        nc.createDimension(lead_dim, None if nc is det else len(LEADS))
        if member:
            nc.createDimension("member", 2)
            m = nc.createVariable("member", "i4", ("member",))
            m.standard_name = "realization"
            m[:] = [0, 1]
        times(nc, lead_dim, "cf" if nc is det else "step" if nc is ens else "valid")
        if nc is not sfc:
            levels(nc)
        coords(nc, lat, lon)
        lead = ("member", lead_dim) if member else (lead_dim,)
        for k in UNITS:
            upper = k in UPPER
            # the valid-time files hold every variable (pangu's reader reads such states whole);
            # pangu's own layout only those the tracker needs (a subset, as eval reads it)
            if (nc is pl and not upper) or (nc is sfc and upper) or (nc in (det, ens) and k in ("q", "t2m")):
                continue
            dims = lead + (("level",) if upper else ()) + ("latitude", "longitude")
            var[(id(nc), k)] = nc.createVariable(k, "f4", dims, zlib=True)
            var[(id(nc), k)].units = UNITS[k]
            if nc is det:
                var[(id(nc), k)].coordinates = "forecast_period forecast_reference_time"
    for i, h in enumerate(LEADS):
        for member, shift in ((0, 0.0), (1, 1.0)):
            vals = step_values(lat, lon, h, shift)
            targets = [(ens, (member, i))] + ([(det, (i,)), (pl, (i,)), (sfc, (i,))] if member == 0 else [])
            for nc, at in targets:
                for k, x in vals.items():
                    if (id(nc), k) not in var:
                        continue
                    if isinstance(x, tuple):
                        for lev in range(2):
                            var[(id(nc), k)][at + (lev,)] = x[lev]
                    else:
                        var[(id(nc), k)][at] = x
    for nc in (det, ens, pl, sfc):
        nc.close()


LEVELS13 = [1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50]


def write_levels13(path, lat, lon):
    """lead 0 only on a valid-time axis, every variable pangu's models have at pangu's 13 levels, uncompressed: z, t, u, v below 500 hPa
    as at 850, above as at 200; q noise (the bytes the tracker must not read)"""
    nc = Dataset(path, "w", format="NETCDF4")
    nc.createDimension("time", 1)
    saved = LEADS[:]
    LEADS[:] = [0]
    times(nc, "time", "valid")  # not pangu's layout: read through the series reader, as split files and GRIB are
    LEADS[:] = saved
    nc.createDimension("level", len(LEVELS13))
    lev = nc.createVariable("level", "f4", ("level",))
    lev.standard_name, lev.units = "air_pressure", "hPa"
    lev[:] = LEVELS13
    coords(nc, lat, lon)
    vals = step_values(lat, lon, 0, 0.0)
    vals["q"] = (np.random.default_rng(1).random(vals["msl"].shape) * 0.02,) * 2
    for k in UNITS:
        upper = k in UPPER
        dims = ("time",) + (("level",) if upper else ()) + ("latitude", "longitude")
        v = nc.createVariable(k, "f4", dims)  # contiguous: a field read is its bytes read
        v.units = UNITS[k]
        if upper:
            v[0] = np.stack([vals[k][0 if p >= 500 else 1] for p in LEVELS13])
        else:
            v[0] = vals[k]
    nc.close()


def write_land_sea_mask(path, lat, lon):
    lsm = Dataset(path, "w", format="NETCDF4")
    coords(lsm, lat, lon)
    m = lsm.createVariable("lsm", "f4", ("latitude", "longitude"))
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    m[:] = ((lo >= 102) & (lo <= 104) & (la >= 10) & (la <= 26)).astype("f4")
    lsm.close()


def write_best_track(path, head):
    names = head[0].rstrip("\n").split(",")
    col = {n: i for i, n in enumerate(names)}
    with open(path, "w") as f:
        f.write(head[0])
        f.write(head[1])
        for number, (sid, name, basin, *s, nature) in enumerate(STORMS, 1):
            for h in range(-12, 73, 3):
                lat, lon, dp = position(s, h)
                row = [" "] * len(names)
                lon = lon - 360 if lon > 180 else lon  # IBTrACS longitudes: -180..180 (BRAVO goes beyond 180 below)
                if sid.startswith("2018298S15176") and h >= 60:
                    lon += 360  # "sometimes beyond 180", as NCEI's file has them
                when = INIT + timedelta(hours=h)
                for k, val in (("SID", sid), ("SEASON", "2018"), ("NUMBER", str(number)), ("BASIN", basin), ("SUBBASIN", "MM"),
                               ("NAME", name), ("ISO_TIME", when.strftime("%Y-%m-%d %H:%M:%S")), ("NATURE", nature),
                               ("LAT", "%.1f" % lat), ("LON", "%.1f" % lon), ("TRACK_TYPE", "main"),
                               ("USA_WIND", "%d" % round(dp * 2)), ("USA_PRES", "%d" % round(1010 - dp))):
                    row[col[k]] = val
                f.write(",".join(row) + "\n")


def write_truth(path):
    with open(path, "w") as f:
        f.write("sid,lead_hours,lat,lon,dp\n")
        for sid, name, basin, *s, nature in STORMS:
            for h in LEADS:
                lat, lon, dp = position(s, h)
                f.write("%s,%d,%.4f,%.4f,%.3f\n" % (sid, h, lat, lon, dp))


if __name__ == "__main__":
    out, head_path = sys.argv[1], sys.argv[2]
    with open(head_path) as f:
        head = [f.readline(), f.readline()]
    lat, lon = 90 - 0.5 * np.arange(361), 0.5 * np.arange(720)
    write_forecasts(out, lat, lon)
    write_land_sea_mask(out + "/lsm.nc", lat, lon)
    write_levels13(out + "/fc13_2018102500.nc", lat, lon)
    write_best_track(out + "/ibtracs.csv", head)
    write_truth(out + "/truth.csv")
