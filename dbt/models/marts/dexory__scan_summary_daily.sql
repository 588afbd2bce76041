-- Every scan the API ever served (the history in `locations`), per site and day of scan (UTC).
{%- set status_types = var('dexory_status_types') %}
with scans as (
    select
        source_relation,
        site,
        cast(scan_date as date) as scan_day,
        status_type,
        occupancy
    from {{ ref('stg_dexory__locations') }}
)

select
    source_relation,
    site,
    scan_day,
    count(*) as locations_scanned,
    {%- for status_type in status_types %}
    sum(case when status_type = {{ dbt.string_literal(status_type) }} then 1 else 0 end) as {{ status_type }}_locations,
    {%- endfor %}
    sum(case when status_type in (
        {%- for status_type in status_types %}{{ dbt.string_literal(status_type) }}{{ ", " if not loop.last }}{% endfor -%}
    ) then 0 else 1 end) as other_status_type_locations,
    avg(occupancy) as average_occupancy
from scans
group by source_relation, site, scan_day
