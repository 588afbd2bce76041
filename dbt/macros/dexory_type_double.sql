{% macro dexory_type_double() %}
{#- A 64-bit float, as the connector declares its fractional fields. dbt.type_float() is 32 bits on DuckDB and
    Spark, where 16777217 would read as 16777216 and 0.1 as 0.10000000149. -#}
{{ return(adapter.dispatch('dexory_type_double', 'dexory')()) }}
{% endmacro %}

{% macro default__dexory_type_double() %}{{ return(dbt.type_float()) }}{% endmacro %}

{% macro duckdb__dexory_type_double() %}{{ return('double') }}{% endmacro %}

{% macro spark__dexory_type_double() %}{{ return('double') }}{% endmacro %}
