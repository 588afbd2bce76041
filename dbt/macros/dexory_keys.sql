{% macro dexory_location_key() %}
{#- A location's key across connections: the schema it came from, its site, and its key within the site. -#}
{{ return(['source_relation', 'site', 'name', 'location_type', 'aisle', 'scan_date']) }}
{% endmacro %}


{% macro dexory_join_on(left, right, columns) %}
{#- `left` and `right` equal on every one of `columns`. -#}
{%- for column in columns %}{{ ' and ' if not loop.first }}{{ left }}.{{ column }} = {{ right }}.{{ column }}{% endfor -%}
{% endmacro %}


{% macro dexory_current_snapshot(alias) %}
{#- Keeps the rows of `alias` in its site's current snapshot: delivered since the start of the site's latest complete
    round. Right after that round, exactly what the API served in it; while a later round runs or after it failed,
    that snapshot stays whole (rows re-delivered since carry the later round). -#}
inner join {{ ref('int_dexory__last_complete_rounds') }} as last_complete
    on {{ dexory_join_on(alias, 'last_complete', ['source_relation', 'site']) }}
    and {{ alias }}.round_started_at >= last_complete.round_started_at
{%- endmacro %}
