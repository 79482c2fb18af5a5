{#- Anomaly flags of `measurements` (see its YAML): the keys (skey) of the new rows of `judged` whose
    rolling robust z-score is extreme, i.e. n >= min_points, MAD > 0 and |0.6745 (x - median) / MAD| > z
    over the values within +/- h. `judged` (skey, value, is_new) holds the 'ok' values of every series
    the run recomputes, plus (with_context) their stored neighbours within h.

    Sorting every value's ~40-70 neighbours twice (median, then MAD) costs ~20 us a value, so the exact
    statistics are computed only where a cheap test cannot rule an anomaly out (~2.5 % of the values).
    The test is exact, never a heuristic:

    - Anchors: for each hour H, A = the values in [H - h, H + h), sorted once. A value at t uses the
      anchor of the nearest hour. Its window W = [t - h, t + h] differs from A by r values A has and W
      lacks and s values W has and A lacks (|t - H| <= 30 min, so only a few), counted exactly from the
      anchor's time-ordered values. Removing r values and adding s moves any order statistic by at
      most that many places: w(j) lies in [a(j - s), a(j + r)], so the median m of W lies in
      [P, Q] = [a(lo - s), a(hi + r)], lo and hi being the ranks percentile_cont interpolates between
      (narrowed to P or Q alone when the counts in A already decide it).
    - With D = max(|x - P|, |x - Q|) >= |x - m| and delta = 0.6745 D / z: if fewer than lo values of W
      lie within delta of [P, Q] (at most those of A, plus s), fewer than lo deviations from m are below
      delta, so MAD >= delta and |z-score| <= z: not an anomaly. Margins of 1e-9 cover float rounding.
    - If hi or more values of W (counted exactly) equal P, Q or x, they hold the median: MAD = 0 or
      x - median = 0, not an anomaly. This settles on/off and stepped signals.
    - The same two tests run first once per anchor for all its own values together, with the largest
      r and s among them (~70 % of the values are cleared there without a row of their own).
    - The rest get the exact statistics of W, the same expressions over the same values as a plain
      rolling computation, so the flags are identical (tests/test_transform.py checks it).

    Values are grouped in hourly buckets and each anchor concatenates the buckets within h + 1 hour,
    so every value is copied ~8 times into small arrays instead of ~50 times into per-row windows. -#}
{% macro measurements_anomalies(judged, with_context) %}
{%- set h = "interval " ~ gh_literal(var('anomaly_half_window')) -%}
{%- set n_min = var('anomaly_min_points') -%}
{%- set z = var('anomaly_z_threshold') -%}
{%- set origin = "timestamptz '2000-01-01 00:00+00'" -%}
{%- set margin = "(1 + 1e-9)" -%}
{%- set us = "interval '1 microsecond'" -%}
    with buckets as (
        select date_bin(interval '1 hour', skey, {{ origin }}) as bucket,
            array_agg(skey order by skey) as times, array_agg(value order by skey) as vals
            {%- if with_context %}, array_agg(is_new order by skey) as news{% endif %}
        from {{ judged }}
        group by 1
    ),
    -- Every hour a value rounds to is an anchor: the bucket starts, plus the empty hour after a bucket.
    hours as (
        select * from buckets
        union all
        select b.bucket + interval '1 hour', '{}', '{}'{% if with_context %}, '{}'{% endif %} from buckets b
        where not exists (select 1 from buckets n where n.bucket = b.bucket + interval '1 hour')
    ),
    -- Per anchor H: the time-ordered values in [H - h - 1 hour, H + h + 1 hour), and in them the index
    -- ranges of its own values (t within 30 min of H): (p0, p1], and of A = [H - h, H + h): (a0, a1].
    anchors as (
        select c.*,
            width_bucket(c.anchor - interval '30 minutes' - {{ us }}, c.times) as p0,
            width_bucket(c.anchor + interval '30 minutes' - {{ us }}, c.times) as p1,
            width_bucket(c.anchor - {{ h }} - {{ us }}, c.times) as a0,
            width_bucket(c.anchor + {{ h }} - {{ us }}, c.times) as a1
        from (
            select bucket as anchor,
                pg_temp.measurements_array_cat(times) over hood as times,
                pg_temp.measurements_array_cat(vals) over hood as vals
                {%- if with_context %}, pg_temp.measurements_array_cat(news) over hood as news{% endif %}
            from hours
            window hood as (order by bucket range between {{ h }} + interval '1 hour' preceding and {{ h }} following)
        ) c
    ),
    sorted_anchors as (
        select a.*, array(select unnest(a.vals[a.a0 + 1 : a.a1]) order by 1) as sorted
        from anchors a
        where a.p1 > a.p0
        offset 0  -- sort once per anchor
    ),
    -- One bracket and one bound for all the anchor's own values, from the worst r and s among them
    -- (r and s only grow away from H, so the first and last value have the largest).
    worst as (
        select a.*, greatest(f.r, l.r) as r_max, greatest(f.s, l.s) as s_max
        from sorted_anchors a
        cross join lateral (select width_bucket(a.times[a.p0 + 1] - {{ h }} - {{ us }}, a.times) as w0,
                                   width_bucket(a.times[a.p0 + 1] + {{ h }}, a.times) as w1) fw
        cross join lateral (select width_bucket(a.times[a.p1] - {{ h }} - {{ us }}, a.times) as w0,
                                   width_bucket(a.times[a.p1] + {{ h }}, a.times) as w1) lw
        cross join lateral (select greatest(fw.w0 - a.a0, 0) + greatest(a.a1 - fw.w1, 0) as r,
                                   greatest(a.a0 - fw.w0, 0) + greatest(fw.w1 - a.a1, 0) as s) f
        cross join lateral (select greatest(lw.w0 - a.a0, 0) + greatest(a.a1 - lw.w1, 0) as r,
                                   greatest(a.a0 - lw.w0, 0) + greatest(lw.w1 - a.a1, 0) as s) l
        offset 0
    ),
    -- lo >= lo_min and hi <= hi_max for every own value (n lies in [N - r_max, N + s_max]), so its
    -- median lies in [P*, Q*] = [a(lo_min - s_max), a(hi_max + r_max)]. Within delta_max of [P*, Q*]
    -- A holds at most lo_min - 1 - s_max values, the E left over split between the two sides.
    banded as (
        select w.*, b.p_all, b.q_all, b.lo_min, b.hi_max
        from worst w
        cross join lateral (
            select (w.a1 - w.a0 - w.r_max - 1) / 2 + 1 as lo_min, (w.a1 - w.a0 + w.s_max) / 2 + 1 as hi_max
        ) k
        cross join lateral (
            select case when k.lo_min - w.s_max >= 1 then w.sorted[k.lo_min - w.s_max] end as p_all,
                   case when k.hi_max + w.r_max <= w.a1 - w.a0 then w.sorted[k.hi_max + w.r_max] end as q_all,
                   k.lo_min, k.hi_max
        ) b
        offset 0
    ),
    bounded as (
        select b.*,
            case when b.p_all = b.q_all
                      and width_bucket(b.p_all, b.sorted) - array_position(b.sorted, b.p_all) + 1 - b.r_max >= b.hi_max
                 then true else false end as all_mad_zero,
            case when e.e >= 0 then least(
                     case when e.i1 - 1 - e.e / 2 >= 1 then b.p_all - b.sorted[e.i1 - 1 - e.e / 2] else 'infinity' end,
                     case when e.i2 + 1 + (e.e - e.e / 2) <= b.a1 - b.a0 then b.sorted[e.i2 + 1 + (e.e - e.e / 2)] - b.q_all
                          else 'infinity' end)
            end as delta_max
        from banded b
        cross join lateral (
            select array_position(b.sorted, b.p_all) as i1, width_bucket(b.q_all, b.sorted) as i2,
                   b.lo_min - 1 - b.s_max - (width_bucket(b.q_all, b.sorted) - array_position(b.sorted, b.p_all) + 1) as e
        ) e
        offset 0
    ),
    -- Own values the anchor-wide bound does not clear go on to their own bracket.
    own as (
        select o.*
        from (
            select a.times, a.vals, a.sorted, a.a0, a.a1, a.p_all, a.q_all, a.delta_max,
                unnest(a.times[a.p0 + 1 : a.p1]) as skey, unnest(a.vals[a.p0 + 1 : a.p1]) as value
                {%- if with_context %}, unnest(a.news[a.p0 + 1 : a.p1]) as is_new{% endif %}
            from bounded a
            where not a.all_mad_zero
        ) o
        where o.delta_max is null or o.p_all is null or o.q_all is null
           or not greatest(abs(o.value - o.p_all), abs(o.value - o.q_all)) * (0.6745 / {{ z }}) * {{ margin }} * {{ margin }}
                  + 1e-12 * (abs(o.p_all) + abs(o.q_all)) < o.delta_max
    ),
    shifted as (
        -- W = [t - h, t + h] is the index range (w0, w1]; r = |A \ W|, s = |W \ A|
        select o.*, w.w0, w.w1, w.w1 - w.w0 as n, (w.w1 - w.w0 - 1) / 2 + 1 as lo, (w.w1 - w.w0) / 2 + 1 as hi,
            greatest(w.w0 - o.a0, 0) + greatest(o.a1 - w.w1, 0) as r,
            greatest(o.a0 - w.w0, 0) + greatest(w.w1 - o.a1, 0) as s
        from own o
        cross join lateral (select width_bucket(o.skey - {{ h }} - {{ us }}, o.times) as w0,
                                   width_bucket(o.skey + {{ h }}, o.times) as w1) w
        {%- if with_context %}
        where o.is_new
        {%- endif %}
        offset 0
    ),
    bracketed as (
        select s.*,
            case when lo - s >= 1 then sorted[lo - s] end as p,
            case when hi + r <= a1 - a0 then sorted[hi + r] end as q
        from shifted s
        where n >= {{ n_min }}
        offset 0
    ),
    -- The median is P itself when at least hi values of W are <= P even if all r values A has and W
    -- lacks were too; it is Q when fewer than lo values of W are < Q even with all s added ones.
    narrowed as (
        select b.*,
            case when array_position(b.sorted, b.q) - 1 + b.s <= b.lo - 1 then b.q else b.p end as pp,
            case when width_bucket(b.p, b.sorted) - b.r >= b.hi then b.p else b.q end as qq
        from bracketed b
    ),
    cleared as (
        select b.*,
            case
                when p is null or q is null then false
                when value = pp and value = qq then true
                when width_bucket(qq + t.delta, sorted) - width_bucket(pp - t.delta, sorted) + s <= lo - 1 then true
                -- hi or more equal values hold the median: MAD = 0, or x is the median (counted exactly in W)
                when cardinality(array_positions(vals[w0 + 1 : w1], pp)) >= hi
                  or cardinality(array_positions(vals[w0 + 1 : w1], qq)) >= hi
                  or cardinality(array_positions(vals[w0 + 1 : w1], value)) >= hi then true
                else false
            end as cleared
        from narrowed b
        cross join lateral (
            select greatest(abs(b.value - b.pp), abs(b.value - b.qq)) * (0.6745 / {{ z }}) * {{ margin }} * {{ margin }}
                   + 1e-12 * (abs(b.pp) + abs(b.qq)) as delta
        ) t
    )
    select c.skey
    from cleared c
    cross join lateral (select percentile_cont(0.5) within group (order by x) as median
                        from unnest(c.vals[c.w0 + 1 : c.w1]) x) med
    cross join lateral (select percentile_cont(0.5) within group (order by abs(x - med.median)) as mad
                        from unnest(c.vals[c.w0 + 1 : c.w1]) x) mad
    where not c.cleared and mad.mad > 0
      and abs(0.6745 * (c.value - med.median) / mad.mad) > {{ z }}
{% endmacro %}
