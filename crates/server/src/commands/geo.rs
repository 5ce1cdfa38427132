//! Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH and the searches (GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their _RO forms).
//!
//! A geo key is a sorted set whose scores are 52-bit geohashes (`geohash`
//! module); GEOADD is ZADD with computed scores and is propagated as that
//! ZADD. A search scans the score ranges of the 3x3 cells around the centre,
//! keeps the points inside the shape, then sorts and trims as Redis does.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_storage::{Value, Zset};

use super::geohash::{self, Shape};
use super::zsets::{parse_score, zadd_generic, AddFlags};
use crate::command::context::errors;
use crate::command::{
    acl, flags::*, key_flags::*, Arg, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec,
};
use crate::notify;

const RADIUS_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";
const SEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";

/// GEORADIUS's optional STORE/STOREDIST destinations.
const RADIUS_SPECS: &[KeySpec] = &[
    KeySpec::single(1, RO | ACCESS),
    KeySpec::new(
        OW | UPDATE,
        BeginSearch::Keyword { keyword: "STORE", start_from: 6 },
        FindKeys::Range { last_key: 0, step: 1, limit: 0 },
    ),
    KeySpec::new(
        OW | UPDATE,
        BeginSearch::Keyword { keyword: "STOREDIST", start_from: 6 },
        FindKeys::Range { last_key: 0, step: 1, limit: 0 },
    ),
];
const BY_MEMBER_SPECS: &[KeySpec] = &[
    KeySpec::single(1, RO | ACCESS),
    KeySpec::new(
        OW | UPDATE,
        BeginSearch::Keyword { keyword: "STORE", start_from: 5 },
        FindKeys::Range { last_key: 0, step: 1, limit: 0 },
    ),
    KeySpec::new(
        OW | UPDATE,
        BeginSearch::Keyword { keyword: "STOREDIST", start_from: 5 },
        FindKeys::Range { last_key: 0, step: 1, limit: 0 },
    ),
];

macro_rules! geo_command {
    ($name:literal, $arity:expr, $flags:expr, $specs:expr, $handler:ident, $since:literal, $summary:literal, $complexity:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::GEO,
            key_specs: $specs,
            handler: Some($handler),
            group: "geo",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            ..CommandSpec::DEFAULT
        }
    };
}

/// A deprecated GEORADIUS form.
macro_rules! radius_command {
    ($name:literal, $arity:expr, $flags:expr, $specs:expr, $handler:ident, $since:literal, $summary:literal, $complexity:expr, $replaced_by:literal, $history:expr) => {
        CommandSpec {
            doc_flags: crate::command::doc_flags::DEPRECATED,
            deprecated_since: "6.2.0",
            replaced_by: $replaced_by,
            history: $history,
            ..geo_command!($name, $arity, $flags, $specs, $handler, $since, $summary, $complexity)
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        history: &[("6.2.0", "`CH`, `NX` and `XX` options.")],
        ..CommandSpec {
            args: GEOADD_ARGS,
            ..geo_command!(
                "geoadd",
                -5,
                WRITE | DENYOOM,
                &[KeySpec::single(1, RW | UPDATE)],
                geoadd,
                "3.2.0",
                "Add points to a geospatial index",
                "O(log(N)) for each item added, where N is the number of elements in the sorted set."
            )
        }
    },
    CommandSpec {
        args: GEOPOS_ARGS,
        ..geo_command!(
            "geopos",
            -2,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            geopos,
            "3.2.0",
            "Get the coordinates of members of a geospatial index",
            "O(N) where N is the number of members requested."
        )
    },
    CommandSpec {
        args: GEODIST_ARGS,
        ..geo_command!(
            "geodist",
            -4,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            geodist,
            "3.2.0",
            "Distance between two members of a geospatial index",
            "O(log(N))"
        )
    },
    CommandSpec {
        args: GEOHASH_ARGS,
        ..geo_command!(
            "geohash",
            -2,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            geohash_cmd,
            "3.2.0",
            "Geohash strings of members of a geospatial index",
            "O(log(N)) for each member requested, where N is the number of elements in the sorted set."
        )
    },
    CommandSpec {
        history: &[("7.0.0", "Units are accepted in upper case too.")],
        ..CommandSpec {
            args: GEOSEARCH_ARGS,
            ..geo_command!(
                "geosearch",
                -7,
                READONLY,
                &[KeySpec::single(1, RO | ACCESS)],
                geosearch,
                "6.2.0",
                "Find members of a geospatial index inside a circle or box",
                SEARCH_COMPLEXITY
            )
        }
    },
    CommandSpec {
        history: &[("7.0.0", "Units are accepted in upper case too.")],
        ..CommandSpec {
            args: GEOSEARCHSTORE_ARGS,
            ..geo_command!(
                "geosearchstore",
                -8,
                WRITE | DENYOOM,
                &[KeySpec::single(1, OW | UPDATE), KeySpec::single(2, RO | ACCESS)],
                geosearchstore,
                "6.2.0",
                "Store the members of a geospatial index inside a circle or box",
                SEARCH_COMPLEXITY
            )
        }
    },
    CommandSpec {
        args: GEORADIUS_ARGS,
        ..radius_command!(
            "georadius",
            -6,
            WRITE | DENYOOM | MOVABLE_KEYS,
            RADIUS_SPECS,
            georadius,
            "3.2.0",
            "Find members of a geospatial index within a radius of a point",
            RADIUS_COMPLEXITY,
            "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
            &[("6.2.0", "`ANY` option for `COUNT`."), ("7.0.0", "Units are accepted in upper case too.")]
        )
    },
    CommandSpec {
        args: GEORADIUSBYMEMBER_ARGS,
        ..radius_command!(
            "georadiusbymember",
            -5,
            WRITE | DENYOOM | MOVABLE_KEYS,
            BY_MEMBER_SPECS,
            georadiusbymember,
            "3.2.0",
            "Find members of a geospatial index within a radius of a member",
            RADIUS_COMPLEXITY,
            "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments",
            &[("7.0.0", "Units are accepted in upper case too.")]
        )
    },
    CommandSpec {
        args: GEORADIUS_RO_ARGS,
        ..radius_command!(
            "georadius_ro",
            -6,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            georadius_ro,
            "3.2.10",
            "Read-only GEORADIUS",
            RADIUS_COMPLEXITY,
            "`GEOSEARCH` with the `BYRADIUS` argument",
            &[("6.2.0", "`ANY` option for `COUNT`.")]
        )
    },
    CommandSpec {
        args: GEORADIUSBYMEMBER_RO_ARGS,
        ..radius_command!(
            "georadiusbymember_ro",
            -5,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            georadiusbymember_ro,
            "3.2.10",
            "Read-only GEORADIUSBYMEMBER",
            RADIUS_COMPLEXITY,
            "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
            &[]
        )
    },
];

// ---- argument parsing ----

/// A longitude/latitude pair, validated against Redis's limits.
fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = parse_score(lon, errors::NOT_FLOAT)?;
    let lat = parse_score(lat, errors::NOT_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon) || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(format!("ERR invalid longitude,latitude pair {},{}", c_fixed(lon, 6), c_fixed(lat, 6)).into());
    }
    Ok((lon, lat))
}

/// C's `%.Nf`.
fn c_fixed(v: f64, decimals: usize) -> String {
    let mut buf = [0u8; 512];
    // SAFETY: the format is NUL-terminated and takes one int and one double.
    let n = unsafe {
        libc::snprintf(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), c"%.*f".as_ptr(), decimals as libc::c_int, v)
    };
    String::from_utf8_lossy(&buf[..(n.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

/// Meters per unit.
fn parse_unit(arg: &[u8]) -> Result<f64, CmdError> {
    match arg.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err("ERR unsupported unit provided. please use M, KM, FT, MI".into()),
    }
}

/// A radius and its unit: (radius in units, meters per unit).
fn parse_radius(value: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let radius = parse_score(value, "ERR need numeric radius")?;
    if radius < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((radius, parse_unit(unit)?))
}

/// A box's width, height and unit.
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = parse_score(width, "ERR need numeric width")?;
    let h = parse_score(height, "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    Ok((w, h, parse_unit(unit)?))
}

/// Where a member of the geo set is.
fn member_position(z: &Zset, member: &[u8]) -> Option<(f64, f64)> {
    z.score(member).map(geohash::decode_score)
}

/// A coordinate as Redis's `addReplyHumanLongDouble` prints it: `%.17f`,
/// trailing zeros (and a trailing dot) removed.
fn reply_coordinate(reply: &mut cinnabar_protocol::Reply, v: f64) {
    let mut text = c_fixed(v, 17);
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    if text == "-0" {
        text = "0".to_string();
    }
    if reply.is_resp3() {
        reply.raw(format!(",{text}\r\n").as_bytes());
    } else {
        reply.bulk(text.as_bytes());
    }
}

/// A distance as Redis prints it: `%.4f`, as a bulk string.
fn reply_distance(reply: &mut cinnabar_protocol::Reply, d: f64) {
    reply.bulk(c_fixed(d, 4).as_bytes());
}

// ---- GEOADD / GEOPOS / GEODIST / GEOHASH ----

fn geoadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut flags = AddFlags::default();
    let mut first = 2;
    while first < argv.len() {
        match argv[first].to_ascii_lowercase().as_slice() {
            b"nx" => flags.nx = true,
            b"xx" => flags.xx = true,
            b"ch" => flags.ch = true,
            _ => break,
        }
        first += 1;
    }
    if !(argv.len() - first).is_multiple_of(3) || (flags.nx && flags.xx) {
        return Err(errors::SYNTAX.into());
    }
    let mut zadd_argv: Vec<Vec<u8>> = argv[..first].iter().map(|a| a.to_vec()).collect();
    zadd_argv[0] = b"zadd".to_vec();
    for triple in argv[first..].chunks(3) {
        let (lon, lat) = parse_lon_lat(triple[0], triple[1])?;
        let cell = geohash::encode(lon, lat, geohash::STEP_MAX).expect("validated coordinates");
        zadd_argv.push(cell.align52().to_string().into_bytes());
        zadd_argv.push(triple[2].to_vec());
    }
    let pairs: Vec<&[u8]> = zadd_argv[first..].iter().map(Vec::as_slice).collect();
    let result = zadd_generic(ctx, argv[1], &pairs, flags);
    ctx.propagate_as(zadd_argv);
    result
}

fn geopos(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let positions: Vec<Option<(f64, f64)>> = match ctx.read_zset(argv[1])? {
        Some(z) => argv[2..].iter().map(|m| member_position(z, m)).collect(),
        None => vec![None; argv.len() - 2],
    };
    let reply = ctx.reply();
    reply.array(positions.len());
    for p in positions {
        match p {
            None => reply.null_array(),
            Some((lon, lat)) => {
                reply.array(2);
                reply_coordinate(reply, lon);
                reply_coordinate(reply, lat);
            }
        }
    }
    Ok(())
}

fn geodist(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => parse_unit(argv[4])?,
        _ => return Err(errors::SYNTAX.into()),
    };
    let points = ctx.read_zset(argv[1])?.map(|z| (member_position(z, argv[2]), member_position(z, argv[3])));
    match points {
        Some((Some(a), Some(b))) => reply_distance(ctx.reply(), geohash::distance(a.0, a.1, b.0, b.1) / to_meters),
        _ => ctx.reply().null(),
    }
    Ok(())
}

const GEO_ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

fn geohash_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let hashes: Vec<Option<Vec<u8>>> = match ctx.read_zset(argv[1])? {
        Some(z) => argv[2..].iter().map(|m| member_position(z, m).map(standard_geohash)).collect(),
        None => vec![None; argv.len() - 2],
    };
    let reply = ctx.reply();
    reply.array(hashes.len());
    for h in hashes {
        match h {
            Some(h) => reply.bulk(&h),
            None => reply.null(),
        }
    }
    Ok(())
}

/// The 11-character standard geohash of a point (the last character is
/// always '0': only 52 bits exist).
fn standard_geohash((lon, lat): (f64, f64)) -> Vec<u8> {
    let bits = geohash::encode_standard(lon, lat).map_or(0, |c| c.bits);
    (0..11)
        .map(|i| {
            let idx = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
            GEO_ALPHABET[idx as usize]
        })
        .collect()
}

// ---- searches ----

#[derive(Clone, Copy, PartialEq)]
enum SearchKind {
    /// GEORADIUS[_RO]: centre and radius are positional.
    RadiusCoords {
        read_only: bool,
    },
    /// GEORADIUSBYMEMBER[_RO].
    RadiusMember {
        read_only: bool,
    },
    Search,
    SearchStore,
}

impl SearchKind {
    /// The keyspace event of a stored result.
    fn store_event(self) -> &'static str {
        match self {
            SearchKind::SearchStore => "geosearchstore",
            _ => "georadiusstore",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One match.
struct Point {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

fn georadius(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, 1, SearchKind::RadiusCoords { read_only: false })
}

fn georadius_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, 1, SearchKind::RadiusCoords { read_only: true })
}

fn georadiusbymember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, 1, SearchKind::RadiusMember { read_only: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, 1, SearchKind::RadiusMember { read_only: true })
}

fn geosearch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, 1, SearchKind::Search)
}

fn geosearchstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    search(ctx, argv, 2, SearchKind::SearchStore)
}

const UNDECODABLE: &str = "ERR could not decode requested zset member";

/// Everything a search was asked for, parsed in Redis's order.
struct SearchRequest<'a> {
    center: Option<(f64, f64)>,
    shape: Option<Shape>,
    /// Meters per unit.
    conversion: f64,
    store: Option<&'a [u8]>,
    store_dist: bool,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    any: bool,
    sort: Sort,
    count: usize,
}

fn parse_search<'a>(
    ctx: &mut Ctx,
    argv: &[&'a [u8]],
    src: usize,
    kind: SearchKind,
) -> Result<(SearchRequest<'a>, bool), CmdError> {
    let source = ctx.read_zset(argv[src])?.map(|z| z as &Zset);
    let exists = source.is_some();
    let mut req = SearchRequest {
        center: None,
        shape: None,
        conversion: 1.0,
        store: None,
        store_dist: false,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        any: false,
        sort: Sort::None,
        count: 0,
    };
    let base = match kind {
        SearchKind::RadiusCoords { .. } => {
            req.center = Some(parse_lon_lat(argv[2], argv[3])?);
            let (r, conv) = parse_radius(argv[4], argv[5])?;
            (req.shape, req.conversion) = (Some(Shape::Radius(r * conv)), conv);
            6
        }
        SearchKind::RadiusMember { .. } => {
            if let Some(z) = source {
                req.center = Some(member_position(z, argv[2]).ok_or(UNDECODABLE)?);
                let (r, conv) = parse_radius(argv[3], argv[4])?;
                (req.shape, req.conversion) = (Some(Shape::Radius(r * conv)), conv);
            }
            5
        }
        SearchKind::Search => 2,
        SearchKind::SearchStore => {
            req.store = Some(argv[1]);
            3
        }
    };
    let geosearch = matches!(kind, SearchKind::Search | SearchKind::SearchStore);
    let no_store =
        matches!(kind, SearchKind::RadiusCoords { read_only: true } | SearchKind::RadiusMember { read_only: true });
    let (mut from_member, mut from_loc, mut by_radius, mut by_box) = (false, false, false, false);
    let rest = &argv[base..];
    let mut i = 0;
    while i < rest.len() {
        let remaining = rest.len();
        let arg = rest[i].to_ascii_lowercase();
        match arg.as_slice() {
            b"withdist" => req.with_dist = true,
            b"withhash" => req.with_hash = true,
            b"withcoord" => req.with_coord = true,
            b"any" => req.any = true,
            b"asc" => req.sort = Sort::Asc,
            b"desc" => req.sort = Sort::Desc,
            b"count" if i + 1 < remaining => {
                let count = parse_i64(rest[i + 1]).ok_or(errors::NOT_INTEGER)?;
                if count <= 0 {
                    return Err("ERR COUNT must be > 0".into());
                }
                req.count = count as usize;
                i += 1;
            }
            b"store" | b"storedist" if i + 1 < remaining && !no_store && !geosearch => {
                req.store = Some(rest[i + 1]);
                req.store_dist = arg == b"storedist";
                i += 1;
            }
            b"storedist" if kind == SearchKind::SearchStore => req.store_dist = true,
            b"frommember" if i + 1 < remaining && geosearch && !from_loc => {
                if let Some(z) = source {
                    req.center = Some(member_position(z, rest[i + 1]).ok_or(UNDECODABLE)?);
                }
                from_member = true;
                i += 1;
            }
            b"fromlonlat" if i + 2 < remaining && geosearch && !from_member => {
                req.center = Some(parse_lon_lat(rest[i + 1], rest[i + 2])?);
                from_loc = true;
                i += 2;
            }
            b"byradius" if i + 2 < remaining && geosearch && !by_box => {
                let (r, conv) = parse_radius(rest[i + 1], rest[i + 2])?;
                (req.shape, req.conversion) = (Some(Shape::Radius(r * conv)), conv);
                by_radius = true;
                i += 2;
            }
            b"bybox" if i + 3 < remaining && geosearch && !by_radius => {
                let (w, h, conv) = parse_box(rest[i + 1], rest[i + 2], rest[i + 3])?;
                (req.shape, req.conversion) = (Some(Shape::Box { width: w * conv, height: h * conv }), conv);
                by_box = true;
                i += 3;
            }
            _ => return Err(errors::SYNTAX.into()),
        }
        i += 1;
    }
    if req.store.is_some() && (req.with_dist || req.with_hash || req.with_coord) {
        let what = if kind == SearchKind::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options").into());
    }
    let name = String::from_utf8_lossy(argv[0]);
    if geosearch && !(from_member || from_loc) {
        return Err(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}").into());
    }
    if geosearch && !(by_radius || by_box) {
        return Err(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}").into());
    }
    if req.any && req.count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    Ok((req, exists))
}

fn search(ctx: &mut Ctx, argv: &[&[u8]], src: usize, kind: SearchKind) -> CmdResult {
    let (req, exists) = parse_search(ctx, argv, src, kind)?;
    if !exists {
        match req.store {
            Some(dest) => {
                delete_store_destination(ctx, dest);
                ctx.reply().int(0);
            }
            None => ctx.reply().array(0),
        }
        return Ok(());
    }
    let (center, shape) = (req.center.expect("parsed"), req.shape.expect("parsed"));
    let mut sort = req.sort;
    if req.count != 0 && sort == Sort::None && !req.any {
        sort = Sort::Asc;
    }
    let z = ctx.read_zset(argv[src])?.expect("exists");
    let limit = if req.any { req.count } else { 0 };
    let mut points = Vec::new();
    for cell in geohash::search_cells(center, &shape) {
        if limit > 0 && points.len() >= limit {
            break;
        }
        collect_cell(z, cell, center, &shape, limit, &mut points);
    }
    if points.is_empty() && req.store.is_none() {
        ctx.reply().array(0);
        return Ok(());
    }
    match sort {
        Sort::Asc => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    let returned = if req.count == 0 { points.len() } else { points.len().min(req.count) };
    points.truncate(returned);
    for p in &mut points {
        p.dist /= req.conversion;
    }
    match req.store {
        None => reply_points(ctx, &points, &req),
        Some(dest) => store_points(ctx, dest, &points, req.store_dist, kind.store_event()),
    }
    Ok(())
}

/// The points of one cell (a score range) that lie inside the shape.
fn collect_cell(z: &Zset, cell: geohash::Cell, center: (f64, f64), shape: &Shape, limit: usize, out: &mut Vec<Point>) {
    let min = cell.align52() as f64;
    let max = geohash::Cell { bits: cell.bits + 1, step: cell.step }.align52() as f64;
    let start = z.count_while(|s, _| s < min);
    let end = z.count_while(|s, _| s < max);
    z.visit(start, end, false, &mut |member, score| {
        if limit > 0 && out.len() >= limit {
            return;
        }
        let (lon, lat) = geohash::decode_score(score);
        if let Some(dist) = shape.distance_if_inside(center, (lon, lat)) {
            out.push(Point { member: member.to_vec(), score, dist, lon, lat });
        }
    });
}

fn reply_points(ctx: &mut Ctx, points: &[Point], req: &SearchRequest) {
    let options = usize::from(req.with_dist) + usize::from(req.with_hash) + usize::from(req.with_coord);
    let reply = ctx.reply();
    reply.array(points.len());
    for p in points {
        if options > 0 {
            reply.array(options + 1);
        }
        reply.bulk(&p.member);
        if req.with_dist {
            reply_distance(reply, p.dist);
        }
        if req.with_hash {
            reply.int(p.score as i64);
        }
        if req.with_coord {
            reply.array(2);
            reply_coordinate(reply, p.lon);
            reply_coordinate(reply, p.lat);
        }
    }
}

/// An empty result deletes the STORE destination.
fn delete_store_destination(ctx: &mut Ctx, dest: &[u8]) {
    if ctx.delete_key(dest) {
        ctx.mark_dirty(1);
        ctx.notify(notify::GENERIC, "del", dest);
    }
}

fn store_points(ctx: &mut Ctx, dest: &[u8], points: &[Point], store_dist: bool, event: &str) {
    if points.is_empty() {
        delete_store_destination(ctx, dest);
        ctx.reply().int(0);
        return;
    }
    let limits = super::zsets::limits(ctx);
    let mut z = Zset::for_first_member(limits, 0);
    for p in points {
        z.add(&p.member, if store_dist { p.dist } else { p.score }, limits);
    }
    ctx.set_key(dest, Value::Zset(z), false);
    ctx.mark_dirty(points.len() as u64);
    ctx.notify(notify::ZSET, event, dest);
    ctx.reply().int(points.len() as i64);
}

// ---- COMMAND DOCS argument trees ----
// Blocks several geo commands share are named once.

const UNIT: Arg = Arg::one_of(
    "unit",
    &[Arg::pure_token("m", "M"), Arg::pure_token("km", "KM"), Arg::pure_token("ft", "FT"), Arg::pure_token("mi", "MI")],
);

const FROM: Arg = Arg::one_of(
    "from",
    &[
        Arg::string("member").token("FROMMEMBER"),
        Arg::block("longitude_latitude", &[Arg::double("longitude"), Arg::double("latitude")]).token("FROMLONLAT"),
    ],
);

const BY: Arg = Arg::one_of(
    "by",
    &[
        Arg::block("circle", &[Arg::double("radius").token("BYRADIUS"), UNIT]),
        Arg::block("box", &[Arg::double("width").token("BYBOX"), Arg::double("height"), UNIT]),
    ],
);

const ORDER: Arg = Arg::one_of("order", &[Arg::pure_token("asc", "ASC"), Arg::pure_token("desc", "DESC")]).optional();
const COUNT: Arg =
    Arg::block("count", &[Arg::integer("count").token("COUNT"), Arg::pure_token("any", "ANY").optional()]).optional();
/// GEORADIUS's COUNT block, whose ANY says when it arrived.
const COUNT_ANY_SINCE: Arg = Arg::block(
    "count",
    &[Arg::integer("count").token("COUNT"), Arg::pure_token("any", "ANY").since("6.2.0").optional()],
)
.optional();
const WITHCOORD: Arg = Arg::pure_token("withcoord", "WITHCOORD").optional();
const WITHDIST: Arg = Arg::pure_token("withdist", "WITHDIST").optional();
const WITHHASH: Arg = Arg::pure_token("withhash", "WITHHASH").optional();
const STORE: Arg = Arg::key("key", 1).token("STORE").optional();
const STOREDIST: Arg = Arg::key("key", 2).token("STOREDIST").optional();
const MEMBERS: &[Arg] = &[Arg::key("key", 0), Arg::string("member").multiple()];

const GEOADD_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::one_of("condition", &[Arg::pure_token("nx", "NX"), Arg::pure_token("xx", "XX")]).since("6.2.0").optional(),
    Arg::pure_token("change", "CH").since("6.2.0").optional(),
    Arg::block(
        "longitude_latitude_member",
        &[Arg::double("longitude"), Arg::double("latitude"), Arg::string("member")],
    )
    .multiple(),
];

const GEOPOS_ARGS: &[Arg] = MEMBERS;

const GEODIST_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("member1"), Arg::string("member2"), UNIT.optional()];

const GEOHASH_ARGS: &[Arg] = MEMBERS;

const GEOSEARCH_ARGS: &[Arg] = &[Arg::key("key", 0), FROM, BY, ORDER, COUNT, WITHCOORD, WITHDIST, WITHHASH];

const GEOSEARCHSTORE_ARGS: &[Arg] = &[
    Arg::key("destination", 0),
    Arg::key("source", 1),
    FROM,
    BY,
    ORDER,
    COUNT,
    Arg::pure_token("storedist", "STOREDIST").optional(),
];

const GEORADIUS_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::double("longitude"),
    Arg::double("latitude"),
    Arg::double("radius"),
    UNIT,
    WITHCOORD,
    WITHDIST,
    WITHHASH,
    COUNT_ANY_SINCE,
    ORDER,
    STORE,
    STOREDIST,
];

const GEORADIUSBYMEMBER_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::string("member"),
    Arg::double("radius"),
    UNIT,
    WITHCOORD,
    WITHDIST,
    WITHHASH,
    COUNT,
    ORDER,
    STORE,
    STOREDIST,
];

// The _RO forms take the same arguments without STORE and STOREDIST.
const GEORADIUS_RO_ARGS: &[Arg] = GEORADIUS_ARGS.split_at(GEORADIUS_ARGS.len() - 2).0;
const GEORADIUSBYMEMBER_RO_ARGS: &[Arg] = GEORADIUSBYMEMBER_ARGS.split_at(GEORADIUSBYMEMBER_ARGS.len() - 2).0;
