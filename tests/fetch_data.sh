#!/bin/bash
# The local test server's files (tests/fetch_server.py): a SYNTHETIC truth
# and numerical forecast from pangu synth on the demo models' 32 x 64 grid,
# turned into real GRIB2 messages by CDO and ecCodes' grib_filter with
# ECMWF's parameter names (gh, q, t, u, v, msl, 10u, 10v, 2t; r besides, as
# IFS files carry more than Pangu needs) and NCEP's (gh ... prmsl), laid out
# as ECMWF open data, NCEP GFS and the CDS emulation's catalogue (ERA5 names,
# z). Usage: tests/fetch_data.sh bin/pangu DIR
#   DIR/syn      the truth (era5_*_YYYYMM.nc, 2026-11-30T00 to 2026-12-06T00, 6-hourly) and
#                nwp_2026120100.nc (leads 0 to 120 h every 24 h)
#   DIR/root     the server's root: ecmwf/, gfs/, cds/; ecmwf-archive/ and gfs-archive/ with
#                runs of earlier dates (the layouts before IFS 50r1 and GFS v16)
set -eu
pangu=$1 d=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3; [ -x $py ] || py=python3
. "$here/cdo_lib.sh"
mkdir -p "$d/syn" "$d/work" "$d/root"
cd "$d"
$pangu synth --grid 32,64 --start 2026-11-30T00 --hours 144 --step-hours 6 --format legacy --out syn >/dev/null 2>&1
$pangu synth --forecast-from 2026-12-01T00 --hours 120 --step-hours 24 --grid 32,64 --format legacy --out syn >/dev/null 2>&1
# GRIB2 parameters (number.category.discipline); 10 m winds and 2 m temperature get their levels below
cat >work/partab <<'EOF'
&parameter name=z param=4.3.0 /
&parameter name=gh param=5.3.0 /
&parameter name=q param=0.1.0 /
&parameter name=r param=1.1.0 /
&parameter name=t param=0.0.0 /
&parameter name=u param=2.2.0 /
&parameter name=v param=3.2.0 /
&parameter name=msl param=0.3.0 /
&parameter name=u10 param=2.2.0 /
&parameter name=v10 param=3.2.0 /
&parameter name=t2m param=0.0.0 /
EOF
# to_grib CENTRE MODE OUT PL SFC ZNAME [CDO-SELECTION]: MODE an (each time an analysis: step 0)
# or fc (steps from the initial time 2026-12-01T00); ZNAME gh (geopotential height, as IFS open
# data and GFS give it, with a relative humidity r besides) or z (ERA5)
to_grib() {
  local centre=$1 mode=$2 out=$3 pl=$4 sfc=$5 zname=$6 sel=${7:-} ref="" rules=work/rules
  [ $mode = fc ] && ref="-setreftime,2026-12-01,00:00:00,hours"
  local z="-selname,z $sel $pl" r=""
  [ $zname = gh ] && z="-chname,z,gh -divc,9.80665 -selname,z $sel $pl" r="-chname,q,r -mulc,40000 -selname,q $sel $pl"
  cdo_stable -s -f grb2 -b P16 $ref -setpartabn,work/partab,convert -merge $z -selname,q,t,u,v $sel "$pl" $r \
    -selname,msl,u10,v10,t2m $sel "$sfc" work/all.grb2 >/dev/null 2>&1
  local prmsl="" an=""
  [ $centre = kwbc ] && prmsl="set parameterNumber = 1;"
  [ $mode = an ] && an='transient vd = validityDate; transient vt = validityTime; set stepUnits = 1; set step = 0; set dataDate = vd; set dataTime = vt;'
  cat >$rules <<EOF
set centre = "$centre";
$an
if (typeOfLevel is "surface") {
  if (shortName is "u") { set typeOfLevel = "heightAboveGround"; set level = 10; }
  if (shortName is "v") { set typeOfLevel = "heightAboveGround"; set level = 10; }
  if (shortName is "t") { set typeOfLevel = "heightAboveGround"; set level = 2; }
  if (shortName is "sp") { set typeOfLevel = "meanSea"; $prmsl }
}
write "$out/[dataDate]_[dataTime]_[step].grib2";
EOF
  mkdir -p "$out"
  grib_filter $rules work/all.grb2 >/dev/null
}
to_grib ecmf an work/ifs_an syn/era5_pl_202611.nc syn/era5_sfc_202611.nc gh -seltimestep,1,3
to_grib ecmf an work/ifs_an syn/era5_pl_202612.nc syn/era5_sfc_202612.nc gh -seltimestep,1,2,3,4,5,9,13,17,21
to_grib ecmf fc work/ifs_fc syn/nwp_2026120100.nc syn/nwp_2026120100.nc gh -seltimestep,2/6
to_grib kwbc an work/gfs_an syn/era5_pl_202612.nc syn/era5_sfc_202612.nc gh -seltimestep,1/2
to_grib kwbc fc work/gfs_fc syn/nwp_2026120100.nc syn/nwp_2026120100.nc gh -seltimestep,2/3
to_grib ecmf an work/era5 syn/era5_pl_202612.nc syn/era5_sfc_202612.nc z -seltimestep,1/8
# earlier runs for the archive roots (as the cloud mirrors keep them): the same fields relabelled,
# a 06 UTC run the day before IFS cycle 50r1 (2026-05-11, stream scda) and on its first day
# (2026-05-12, oper); GFS runs before v16 (2021-03-01 00 UTC) and between NCEP's v16 start
# and Herbie's (2021-03-22 12 UTC), both without atmos/ as Herbie lays them out
relabel() { # relabel SRC-FILE NEW-DATE NEW-HHMM OUT-DIR
  mkdir -p "$4"
  grib_set -s dataDate=$2,dataTime=$3 "$1" "$4/$2_$3_0.grib2"
}
relabel work/ifs_an/20261201_0600_0.grib2 20260511 0600 work/ifs_old
relabel work/ifs_an/20261201_0600_0.grib2 20260512 0600 work/ifs_old
relabel work/gfs_an/20261201_0000_0.grib2 20210301 0000 work/gfs_old
relabel work/gfs_an/20261201_0600_0.grib2 20210322 1200 work/gfs_old
$py "$here/fetch_server.py" layout ecmwf root/ecmwf-archive work/ifs_old/*.grib2
$py "$here/fetch_server.py" layout gfs root/gfs-archive work/gfs_old/*.grib2
$py "$here/fetch_server.py" layout ecmwf root/ecmwf work/ifs_an/*.grib2 work/ifs_fc/*.grib2
$py "$here/fetch_server.py" layout gfs root/gfs work/gfs_an/*.grib2 work/gfs_fc/*.grib2
$py "$here/fetch_server.py" layout cds root/cds work/era5/*.grib2
rm -rf work
