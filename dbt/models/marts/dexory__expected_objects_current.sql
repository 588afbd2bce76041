-- The objects of each current location's list, by the same rule as the locations (superseded rows are soft-deleted).
select
    objects.source_relation,
    objects.site,
    objects.name,
    objects.location_type,
    objects.aisle,
    objects.scan_date,
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
inner join {{ ref('int_dexory__last_complete_rounds') }} as rounds
    on objects.source_relation = rounds.source_relation
    and objects.site = rounds.site
    and objects.round_started_at >= rounds.round_started_at
