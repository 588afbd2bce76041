{%- set key = dexory_location_key() %}
with stock as (
    select
        {{ key | join(', ') }},
        count(*) as expected_objects,
        sum(quantity) as expected_quantity
    from {{ ref('dexory__expected_objects_current') }}
    group by {{ key | join(', ') }}
)

select
    {%- for column in key %}
    locations.{{ column }},
    {%- endfor %}
    locations.status,
    coalesce(stock.expected_objects, 0) as expected_objects,
    coalesce(stock.expected_quantity, 0) as expected_quantity
from {{ ref('dexory__locations_current') }} as locations
left join stock
    on {{ dexory_join_on('locations', 'stock', key) }}
