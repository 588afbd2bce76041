-- One row per site that ever started a round: is its current data complete, and how fresh?
with rounds as (
    select * from {{ ref('stg_dexory__site_rounds') }}
),

latest_started as (
    select source_relation, site, max(round_started_at) as round_started_at
    from rounds
    group by source_relation, site
),

latest as (
    select rounds.*
    from rounds
    inner join latest_started
        on {{ dexory_join_on('rounds', 'latest_started', ['source_relation', 'site', 'round_started_at']) }}
),

last_complete as (
    select rounds.*
    from rounds
    inner join {{ ref('int_dexory__last_complete_rounds') }} as complete
        on {{ dexory_join_on('rounds', 'complete', ['source_relation', 'site', 'round_started_at']) }}
)

select
    latest.source_relation,
    latest.site,
    last_complete.round_started_at as last_complete_round_started_at,
    last_complete.finished_at as last_complete_round_finished_at,
    last_complete.locations as last_complete_round_locations,
    last_complete.objects as last_complete_round_objects,
    last_complete.pages as last_complete_round_pages,
    last_complete.skipped_records as last_complete_round_skipped_records,
    last_complete.duplicate_keys as last_complete_round_duplicate_keys,
    last_complete.retries as last_complete_round_retries,
    {{ dbt.datediff('last_complete.finished_at', dbt.current_timestamp(), 'minute') }} as minutes_since_last_complete,
    latest.round_started_at as latest_round_started_at,
    latest.status as latest_round_status,
    latest.finished_at as latest_round_finished_at,
    latest.error as latest_round_error
from latest
left join last_complete
    on {{ dexory_join_on('latest', 'last_complete', ['source_relation', 'site']) }}
