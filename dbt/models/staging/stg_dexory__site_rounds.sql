{{ dexory_source('site_rounds', {
    'site': dbt.type_string(),
    'round_started_at': dbt.type_timestamp(),
    'status': dbt.type_string(),
    'finished_at': dbt.type_timestamp(),
    'pages': dbt.type_bigint(),
    'locations': dbt.type_bigint(),
    'objects': dbt.type_bigint(),
    'skipped_records': dbt.type_bigint(),
    'duplicate_keys': dbt.type_bigint(),
    'retries': dbt.type_bigint(),
    'error': dbt.type_string(),
    '_fivetran_synced': dbt.type_timestamp(),
}) }}
