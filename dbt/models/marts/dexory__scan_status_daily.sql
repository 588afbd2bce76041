-- Scans per site, day of scan (UTC), status_type and status: the long form of dexory__scan_summary_daily's counts.
with scans as (
    select
        source_relation,
        site,
        cast(scan_date as date) as scan_day,
        status_type,
        status,
        occupancy
    from {{ ref('stg_dexory__locations') }}
)

select
    source_relation,
    site,
    scan_day,
    status_type,
    status,
    count(*) as locations_scanned,
    avg(occupancy) as average_occupancy
from scans
group by source_relation, site, scan_day, status_type, status
