//! Geo searches against the real redis-server on random data: thousands of
//! points (some on cell edges and near the poles and the antimeridian), then
//! random radius and box searches with every reply option, compared byte for
//! byte. The neighbour-cell selection and the step estimate decide which
//! points are found, so this exercises them across all scales.

mod common;

use common::{Kind, RawConn, ServerProcess};

fn call_both(a: &mut RawConn, b: &mut RawConn, argv: &[String], mismatches: &mut Vec<String>) {
    let args: Vec<&[u8]> = argv.iter().map(|s| s.as_bytes()).collect();
    let (x, y) = (a.call(&args), b.call(&args));
    if x != y {
        mismatches.push(format!(
            "{argv:?}\n  cinnabar: {:?}\n  redis:    {:?}",
            String::from_utf8_lossy(&x[..x.len().min(400)]),
            String::from_utf8_lossy(&y[..y.len().min(400)])
        ));
    }
}

fn lon(rng: &mut fastrand::Rng) -> f64 {
    match rng.u8(0..4) {
        0 => rng.f64() * 360.0 - 180.0,
        1 => 179.0 + rng.f64(),
        _ => 13.0 + rng.f64() * 3.0,
    }
}

fn lat(rng: &mut fastrand::Rng) -> f64 {
    match rng.u8(0..4) {
        0 => rng.f64() * 170.0 - 85.0,
        1 => 84.0 + rng.f64(),
        _ => 37.0 + rng.f64() * 2.0,
    }
}

#[test]
fn random_geo_searches_match_redis() {
    let ours = ServerProcess::start(Kind::Cinnabar, &[]);
    let theirs = ServerProcess::start(Kind::Redis, &[]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let mut rng = fastrand::Rng::with_seed(3);
    let mut mismatches = Vec::new();
    for chunk in 0..20 {
        let mut argv = vec!["GEOADD".to_string(), "g".to_string()];
        for i in 0..200 {
            argv.push(format!("{:.6}", lon(&mut rng)));
            argv.push(format!("{:.6}", lat(&mut rng)));
            argv.push(format!("p{}", chunk * 200 + i));
        }
        call_both(&mut a, &mut b, &argv, &mut mismatches);
    }
    for _ in 0..400 {
        let (x, y) = (format!("{:.5}", lon(&mut rng)), format!("{:.5}", lat(&mut rng)));
        let unit = ["m", "km", "mi", "ft"][rng.usize(..4)].to_string();
        let size = format!("{}", [0.5, 10.0, 150.0, 2000.0, 90000.0][rng.usize(..5)] * rng.f64());
        let mut argv: Vec<String> = if rng.bool() {
            ["GEOSEARCH", "g", "FROMLONLAT", &x, &y, "BYRADIUS", &size, &unit].iter().map(|s| s.to_string()).collect()
        } else {
            let h = format!("{}", rng.f64() * 400.0);
            ["GEOSEARCH", "g", "FROMMEMBER", &format!("p{}", rng.usize(0..4000)), "BYBOX", &size, &h, &unit]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        for opt in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if rng.bool() {
                argv.push(opt.to_string());
            }
        }
        argv.push(["ASC", "DESC"][rng.usize(..2)].to_string());
        if rng.u8(0..3) == 0 {
            argv.push("COUNT".to_string());
            argv.push(rng.u8(1..20).to_string());
        }
        call_both(&mut a, &mut b, &argv, &mut mismatches);
        let dist = [
            "GEODIST".to_string(),
            "g".into(),
            format!("p{}", rng.usize(0..4000)),
            format!("p{}", rng.usize(0..4000)),
            unit,
        ];
        call_both(&mut a, &mut b, &dist, &mut mismatches);
    }
    let hash: Vec<String> =
        ["GEOHASH", "g"].iter().map(|s| s.to_string()).chain((0..4000).map(|i| format!("p{i}"))).collect();
    call_both(&mut a, &mut b, &hash, &mut mismatches);
    let pos: Vec<String> =
        ["GEOPOS", "g"].iter().map(|s| s.to_string()).chain((0..4000).map(|i| format!("p{i}"))).collect();
    call_both(&mut a, &mut b, &pos, &mut mismatches);
    mismatches.truncate(5);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
