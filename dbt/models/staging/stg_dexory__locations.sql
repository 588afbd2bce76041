{{ dexory_source('locations', {
    'site': dbt.type_string(),
    'name': dbt.type_string(),
    'location_type': dbt.type_string(),
    'aisle': dbt.type_string(),
    'scan_date': dbt.type_timestamp(),
    'status': dbt.type_string(),
    'status_type': dbt.type_string(),
    'message': dbt.type_string(),
    'image_url': dbt.type_string(),
    'occupancy': dexory_type_double(),
    'round_started_at': dbt.type_timestamp(),
    '_fivetran_synced': dbt.type_timestamp(),
}) }}
