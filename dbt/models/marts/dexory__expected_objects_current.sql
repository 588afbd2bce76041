select
    {%- for column in dexory_location_key() %}
    objects.{{ column }},
    {%- endfor %}
    objects.object_index,
    objects.marker,
    objects.sku,
    objects.description,
    objects.quantity,
    objects.expected_weight_g,
    objects.product_code,
    objects.client,
    objects.batch,
    objects.lot,
    objects.round_started_at
from {{ ref('stg_dexory__expected_inventory_objects') }} as objects
{{ dexory_current_snapshot('objects') }}
