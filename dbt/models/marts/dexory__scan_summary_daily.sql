{%- set status_types = var('dexory_status_types') %}
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
from {{ ref('int_dexory__scans') }}
group by source_relation, site, scan_day
