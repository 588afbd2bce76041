{% macro dexory_source(table, columns) %}
{#- The connector's `table`: from `dexory_schema`, or from every schema in `dexory_union_schemas` (one per Fivetran
    connection), unioned, without the rows Fivetran marks deleted. `source_relation` names the schema a row came from.
    `columns` maps each column the models read to its type: every schema reads alike, and a column a schema lacks
    (no row ever carried it) reads as null. -#}
{%- set base = source('dexory', table) -%}
{%- set schemas = var('dexory_union_schemas') or [base.schema] -%}
{%- for schema in schemas %}
{%- set relation = base.incorporate(path={'schema': schema}) -%}
{%- set present = dexory_columns_of(relation) %}
select
    cast({{ dbt.string_literal(schema) }} as {{ dbt.type_string() }}) as source_relation
    {%- for name, type in columns.items() %},
    cast({{ name if name in present else 'null' }} as {{ type }}) as {{ name }}
    {%- endfor %}
from {{ relation }}
{%- if '_fivetran_deleted' in present %}
where not coalesce(_fivetran_deleted, false)
{%- endif %}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endmacro %}


{% macro dexory_columns_of(relation) %}
{#- The lower-cased column names of `relation`; a missing table stops the run with what to do about it. -#}
{%- if not execute -%}
    {{ return([]) }}
{%- endif -%}
{%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
{%- if found is none -%}
    {{ exceptions.raise_compiler_error(
        "No table " ~ relation ~ ": is " ~ relation.schema ~ " the schema the Dexory connector writes (set the "
        ~ "`dexory_schema` or `dexory_union_schemas` variable; `make models`: --schema), and has a connector version "
        ~ "that writes sync rounds completed a sync into it?") }}
{%- endif -%}
{{ return(adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list) }}
{% endmacro %}
