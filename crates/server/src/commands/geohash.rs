//! Geohash arithmetic as Redis does it: 52-bit interleaved cells (26 bits of
//! latitude in the even positions, 26 of longitude in the odd ones) over
//! Web-Mercator's latitude limits, the 3x3 neighbourhood used to answer a
//! radius or box query, and haversine distances on Redis's earth radius.
//!
//! Replies print decoded coordinates and distances, so every step (the
//! cell-centre decoding, the order of floating-point operations, the step
//! estimate that picks the cell size) follows Redis exactly.

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const STEP_MAX: u8 = 26;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A cell: `step` bits per axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The cell's bits left-aligned to 52, i.e. the lowest score inside it.
    pub fn align52(&self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

#[derive(Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
}

const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };

/// Spreads the low 32 bits of `v` to the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The inverse of `spread`: the even bits of `x`, packed.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

fn encode_in(long_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < long_range.min || lon > long_range.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let lon_offset = (lon - long_range.min) / (long_range.max - long_range.min) * scale;
    // C converts the doubles to uint32_t by truncation.
    Some(Cell { bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1), step })
}

/// The cell of a point at `step` over Redis's ranges.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// The standard geohash cell (latitude -90..90), for GEOHASH's strings.
pub fn encode_standard(lon: f64, lat: f64) -> Option<Cell> {
    encode_in(LONG_RANGE, Range { min: -90.0, max: 90.0 }, lon, lat, STEP_MAX)
}

/// A cell's bounds.
#[derive(Clone, Copy)]
struct Area {
    lon: Range,
    lat: Range,
}

fn decode(cell: Cell) -> Area {
    let ilat = squash(cell.bits);
    let ilon = squash(cell.bits >> 1);
    let div = (1u64 << cell.step) as f64;
    let lat_scale = LAT_RANGE.max - LAT_RANGE.min;
    let lon_scale = LONG_RANGE.max - LONG_RANGE.min;
    Area {
        lat: Range {
            min: LAT_RANGE.min + (f64::from(ilat) / div) * lat_scale,
            max: LAT_RANGE.min + ((f64::from(ilat) + 1.0) / div) * lat_scale,
        },
        lon: Range {
            min: LONG_RANGE.min + (f64::from(ilon) / div) * lon_scale,
            max: LONG_RANGE.min + ((f64::from(ilon) + 1.0) / div) * lon_scale,
        },
    }
}

/// The point a score stands for: the centre of its 26-step cell, clamped.
pub fn decode_score(score: f64) -> (f64, f64) {
    let area = decode(Cell { bits: score as u64, step: STEP_MAX });
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in meters (with Redis's same-longitude shortcut).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// What to search: a circle or an axis-aligned box, in meters, around `center`.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

impl Shape {
    /// The distance from `center` to `point` if the point is inside.
    pub fn distance_if_inside(&self, center: (f64, f64), point: (f64, f64)) -> Option<f64> {
        match *self {
            Shape::Radius(r) => Some(distance(center.0, center.1, point.0, point.1)).filter(|&d| d <= r),
            Shape::Box { width, height } => {
                if lat_distance(point.1, center.1) > height / 2.0 {
                    return None;
                }
                if distance(point.0, point.1, center.0, point.1) > width / 2.0 {
                    return None;
                }
                Some(distance(center.0, center.1, point.0, point.1))
            }
        }
    }

    /// Half the extent north-south and east-west.
    fn half_extents(&self) -> (f64, f64) {
        match *self {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (height / 2.0, width / 2.0),
        }
    }

    /// The radius that covers the shape, for choosing the cell size.
    fn covering_radius(&self) -> f64 {
        match *self {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
        }
    }
}

fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

fn move_x(cell: Cell, d: i8) -> Cell {
    let x = cell.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = cell.bits & 0x5555_5555_5555_5555;
    let shift = 64 - u32::from(cell.step) * 2;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    let x = if d > 0 { x.wrapping_add(zz + 1) } else { (x | zz).wrapping_sub(zz + 1) };
    Cell { bits: (x & (0xaaaa_aaaa_aaaa_aaaa >> shift)) | y, step: cell.step }
}

fn move_y(cell: Cell, d: i8) -> Cell {
    let x = cell.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = cell.bits & 0x5555_5555_5555_5555;
    let shift = 64 - u32::from(cell.step) * 2;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    let y = if d > 0 { y.wrapping_add(zz + 1) } else { (y | zz).wrapping_sub(zz + 1) };
    Cell { bits: x | (y & (0x5555_5555_5555_5555 >> shift)), step: cell.step }
}

/// The cells to scan for `shape` around `center`, in Redis's order (own
/// cell, N, S, E, W, NE, NW, SE, SW), useless ones dropped and a cell equal
/// to the previous one skipped.
pub fn search_cells(center: (f64, f64), shape: &Shape) -> Vec<Cell> {
    let (lon, lat) = center;
    let (half_height, half_width) = shape.half_extents();
    let lat_delta = rad_deg(half_height / EARTH_RADIUS_IN_METERS);
    let lon_delta_top = rad_deg(half_width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let lon_delta_bottom = rad_deg(half_width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    let lon_delta = if lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
    let (min_lon, max_lon) = (lon - lon_delta, lon + lon_delta);
    let (min_lat, max_lat) = (lat - lat_delta, lat + lat_delta);

    let mut steps = estimate_steps(shape.covering_radius(), lat);
    let around = |steps: u8| {
        let cell = encode(lon, lat, steps).unwrap_or_default();
        [
            cell,
            move_y(cell, 1),
            move_y(cell, -1),
            move_x(cell, 1),
            move_x(cell, -1),
            move_y(move_x(cell, 1), 1),
            move_y(move_x(cell, -1), 1),
            move_y(move_x(cell, 1), -1),
            move_y(move_x(cell, -1), -1),
        ]
    };
    let mut n = around(steps);
    let too_coarse = decode(n[1]).lat.max < max_lat
        || decode(n[2]).lat.min > min_lat
        || decode(n[3]).lon.max < max_lon
        || decode(n[4]).lon.min > min_lon;
    if steps > 1 && too_coarse {
        steps -= 1;
        n = around(steps);
    }
    if steps >= 2 {
        let area = decode(n[0]);
        let zero = Cell::default();
        if area.lat.min < min_lat {
            [2, 7, 8].iter().for_each(|&i| n[i] = zero);
        }
        if area.lat.max > max_lat {
            [1, 5, 6].iter().for_each(|&i| n[i] = zero);
        }
        if area.lon.min < min_lon {
            [4, 8, 6].iter().for_each(|&i| n[i] = zero);
        }
        if area.lon.max > max_lon {
            [3, 7, 5].iter().for_each(|&i| n[i] = zero);
        }
    }
    let mut out: Vec<Cell> = Vec::with_capacity(9);
    for cell in n {
        if cell.is_zero() || out.last() == Some(&cell) {
            continue;
        }
        out.push(cell);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
        }
    }

    #[test]
    fn palermo_round_trips_like_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" scores 3479099956230698.
        let cell = encode(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(cell.align52(), 3479099956230698);
        let (lon, lat) = decode_score(3479099956230698.0);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
    }
}
