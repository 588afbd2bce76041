select
    {%- for column in dexory_location_key() %}
    locations.{{ column }},
    {%- endfor %}
    locations.status,
    locations.status_type,
    locations.message,
    locations.occupancy,
    locations.image_url,
    {{ dbt.datediff('locations.scan_date', dbt.current_timestamp(), 'day') }} as days_since_scan,
    locations.round_started_at
from {{ ref('stg_dexory__locations') }} as locations
{{ dexory_current_snapshot('locations') }}
