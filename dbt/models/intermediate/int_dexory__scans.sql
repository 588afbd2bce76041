-- Every scan the API ever served (the history in `locations`), with its day (UTC).
select
    source_relation,
    site,
    cast(scan_date as date) as scan_day,
    status_type,
    status,
    occupancy
from {{ ref('stg_dexory__locations') }}
