with stock as (
    select
        source_relation,
        site,
        name,
        location_type,
        aisle,
        scan_date,
        count(*) as expected_objects,
        sum(quantity) as expected_quantity
    from {{ ref('dexory__expected_objects_current') }}
    group by source_relation, site, name, location_type, aisle, scan_date
)

select
    locations.source_relation,
    locations.site,
    locations.name,
    locations.location_type,
    locations.aisle,
    locations.scan_date,
    locations.status,
    coalesce(stock.expected_objects, 0) as expected_objects,
    coalesce(stock.expected_quantity, 0) as expected_quantity
from {{ ref('dexory__locations_current') }} as locations
left join stock
    on locations.source_relation = stock.source_relation
    and locations.site = stock.site
    and locations.name = stock.name
    and locations.location_type = stock.location_type
    and locations.aisle = stock.aisle
    and locations.scan_date = stock.scan_date
