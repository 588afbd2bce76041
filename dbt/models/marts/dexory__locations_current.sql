-- Rows delivered since the start of the site's latest complete round: after that round, exactly what the API
-- served in it; while a later round runs or after it failed, that snapshot stays whole.
select
    locations.source_relation,
    locations.site,
    locations.name,
    locations.location_type,
    locations.aisle,
    locations.scan_date,
    locations.status,
    locations.status_type,
    locations.message,
    locations.occupancy,
    locations.image_url,
    {{ dbt.datediff('locations.scan_date', dbt.current_timestamp(), 'day') }} as days_since_scan,
    locations.round_started_at
from {{ ref('stg_dexory__locations') }} as locations
inner join {{ ref('int_dexory__last_complete_rounds') }} as rounds
    on locations.source_relation = rounds.source_relation
    and locations.site = rounds.site
    and locations.round_started_at >= rounds.round_started_at
