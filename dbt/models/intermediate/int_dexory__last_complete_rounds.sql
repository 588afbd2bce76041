-- Each site's latest complete round: its snapshot is the site's current data.
select
    source_relation,
    site,
    max(round_started_at) as round_started_at
from {{ ref('stg_dexory__site_rounds') }}
where status = 'complete'
group by source_relation, site
