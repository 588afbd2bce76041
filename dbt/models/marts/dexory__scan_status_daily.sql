select
    source_relation,
    site,
    scan_day,
    status_type,
    status,
    count(*) as locations_scanned,
    avg(occupancy) as average_occupancy
from {{ ref('int_dexory__scans') }}
group by source_relation, site, scan_day, status_type, status
