{% test dexory_unique_combination(model, columns) %}
{#- No two rows share `columns` (a compound key: dbt's `unique` takes one column). -#}
select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}


{% test dexory_relationships(model, to, columns) %}
{#- Every row of the model has its `columns` in `to` (dbt's `relationships` on a compound key). -#}
select child.*
from {{ model }} as child
left join {{ to }} as parent
    on {{ dexory_join_on('child', 'parent', columns) }}
where parent.{{ columns[0] }} is null
{% endtest %}
