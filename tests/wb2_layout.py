#!/usr/bin/python3
"""Files in WeatherBench 2's layouts, exported to NetCDF with xarray as a WB2
user does (ds.to_netcdf), made from pangu's own files with the same values.

The layouts follow google-research/weatherbench2:
- climatology: scripts/compute_climatology.py builds its template with
  expand_dims(hour=np.arange(0, 24, HOUR_INTERVAL), dayofyear=1 + np.arange(366))
  for --frequency hourly and dayofyear only for --frequency daily, so the
  dims are (hour, dayofyear, [level,] latitude, longitude), int64 hour and
  dayofyear coordinates (weatherbench2/schema.py
  mock_hourly_climatology_data does the same); the variables keep the ERA5
  dataset's long names (docs/source/data-guide.ipynb, "ERA5 Climatology":
  geopotential, 2m_temperature, ... on (hour, dayofyear, level, latitude,
  longitude)); evaluation.py falls back to VAR_mean names when VAR is absent.
- forecasts: data-guide.ipynb "Forecast datasets": many initial times on
  time, leads on prediction_timedelta (timedelta64), IFS ENS members on
  number: (time, number, prediction_timedelta, [level,] latitude, longitude);
  scripts/evaluate.py --ensemble_dim defaults to "number". Latitude ascending
  (-90..90) as in WB2's hres and ifs_ens datasets.

Usage:
  wb2_layout.py climatology PANGU_CLIM.nc OUTDIR
      OUTDIR/wb2_clim.nc        hourly, WB2 layout
      OUTDIR/wb2_clim_odd.nc    hourly, VAR_mean names, dims (dayofyear,
                                level, longitude, latitude, hour)
      OUTDIR/wb2_daily.nc       daily (no hour), WB2 layout: hour 0's values
      OUTDIR/pangu_daily.nc     the daily values in pangu's layout (every hour)
  wb2_layout.py forecast OUT.nc MEMBER_FILES_OF_INIT_1 -- MEMBER_FILES_OF_INIT_2 ...
      pangu member files (one deterministic file per member and initial time)
      joined into one WB2 ensemble file.
"""
import sys

import numpy as np
import pandas as pd
import xarray as xr

LONG = {"z": "geopotential", "q": "specific_humidity", "t": "temperature", "u": "u_component_of_wind",
        "v": "v_component_of_wind", "msl": "mean_sea_level_pressure", "u10": "10m_u_component_of_wind",
        "v10": "10m_v_component_of_wind", "t2m": "2m_temperature"}


def climatology(src, outdir):
    ds = xr.open_dataset(src)
    ds = ds[list(LONG)].rename(LONG)
    ds = ds.assign_coords(hour=ds.hour.values.astype("int64"), dayofyear=ds.dayofyear.values.astype("int64"),
                          level=ds.level.values.astype("int64"))
    ds = ds.sortby("latitude")  # ascending, as WB2's ERA5 datasets on equiangular grids with poles
    hourly = ds.transpose("hour", "dayofyear", "level", "latitude", "longitude")
    hourly.to_netcdf(f"{outdir}/wb2_clim.nc")
    odd = ds.rename({v: v + "_mean" for v in LONG.values()})
    odd.transpose("dayofyear", "level", "longitude", "latitude", "hour").to_netcdf(f"{outdir}/wb2_clim_odd.nc")
    daily = hourly.sel(hour=0, drop=True)
    daily.transpose("dayofyear", "level", "latitude", "longitude").to_netcdf(f"{outdir}/wb2_daily.nc")
    # the same daily values in pangu's own layout: every hour of the day holds them
    pangu = xr.open_dataset(src)
    for short, long in LONG.items():
        d = daily[long].sortby("latitude", ascending=bool(pangu.latitude[0] < pangu.latitude[-1]))
        pangu[short].values[...] = d.expand_dims(hour=pangu.hour.values).transpose(*pangu[short].dims).values
    pangu.to_netcdf(f"{outdir}/pangu_daily.nc")


def forecast(out, groups):
    inits = []
    for files in groups:
        members = [xr.open_dataset(f) for f in files]
        m = xr.concat([d[list(LONG)] for d in members], dim="number")
        m = m.assign_coords(number=np.arange(1, len(files) + 1))
        init = pd.Timestamp(members[0].forecast_reference_time.values)  # xarray decodes pangu's CF times
        if "forecast_period" in m.coords:  # pangu's CF layout: the valid time the record axis, the lead beside it
            m = m.swap_dims(time="forecast_period").drop_vars("time").rename(forecast_period="prediction_timedelta")
        else:  # the lead-axis layout of 2026-12
            m = m.rename({"step": "prediction_timedelta"}).drop_vars("valid_time", errors="ignore")
        m = m.assign_coords(prediction_timedelta=pd.to_timedelta(m.prediction_timedelta.values))
        m = m.drop_vars([c for c in m.coords if c not in ("number", "prediction_timedelta", "level", "latitude", "longitude")])
        inits.append(m.expand_dims(time=[init]))
    ds = xr.concat(inits, dim="time").rename(LONG).sortby("latitude")
    ds = ds.assign_coords(level=ds.level.values.astype("int64"))
    ds = ds.transpose("time", "number", "prediction_timedelta", ...)
    ds.encoding = {}  # not pangu's unlimited step
    for v in ds.variables:
        ds[v].encoding = {}
        ds[v].attrs = {k: a for k, a in ds[v].attrs.items() if k in ("long_name", "units", "standard_name")}
    ds.to_netcdf(out)


if __name__ == "__main__":
    if sys.argv[1] == "climatology":
        climatology(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "forecast":
        groups, cur = [], []
        for a in sys.argv[3:]:
            if a == "--":
                groups.append(cur)
                cur = []
            else:
                cur.append(a)
        groups.append(cur)
        forecast(sys.argv[2], groups)
    else:
        sys.exit("usage: wb2_layout.py climatology|forecast ...")
