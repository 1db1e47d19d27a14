//! A content checksum of the rows a partition sent, kept with its `done` mark: a hash per
//! row over its values as Arrow holds them, the row hashes summed. The sum does not depend
//! on row order, batch boundaries or partitioning, so a table's checksum is the sum of its
//! partitions', and two runs of the same copy give the same one. It is cheap: values are
//! hashed from the arrays' buffers, eight bytes at a time, column by column.

use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

const K: u64 = 0x9e37_79b9_7f4a_7c15;
const NULL: u64 = 0x6e75_6c6c_6e75_6c6c;

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(K).rotate_left(29)
}

/// A finaliser, so that summing row hashes does not cancel structure.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[inline]
fn bytes(b: &[u8]) -> u64 {
    let mut h = b.len() as u64;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        h = mix(h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(last));
    }
    h
}

/// The checksum of a batch's rows (to be summed over batches with `wrapping_add`).
pub fn batch(b: &RecordBatch) -> u64 {
    let n = b.num_rows();
    let mut rows = vec![0u64; n];
    for (j, col) in b.columns().iter().enumerate() {
        let seed = (j as u64 + 1).wrapping_mul(K);
        column(col.as_ref(), seed, &mut rows);
    }
    rows.iter().fold(0u64, |s, h| s.wrapping_add(finish(*h)))
}

/// Fold column values into the row hashes: one loop per kind of column, not a match per value.
fn column(a: &dyn Array, seed: u64, rows: &mut [u64]) {
    let data = a.to_data();
    let offset = data.offset();
    let each = |rows: &mut [u64], value: &dyn Fn(usize) -> u64| {
        for (i, h) in rows.iter_mut().enumerate() {
            let v = if a.is_null(i) { NULL } else { value(i) };
            *h = mix(*h ^ seed, v);
        }
    };
    match data.data_type() {
        DataType::Boolean => {
            let bits = data.buffers()[0].as_slice();
            each(rows, &|i| {
                let k = offset + i;
                ((bits[k / 8] >> (k % 8)) & 1) as u64
            })
        }
        DataType::Utf8 | DataType::Binary => {
            let offs = data.buffers()[0].typed_data::<i32>();
            let values = data.buffers()[1].as_slice();
            each(rows, &|i| {
                let (s, e) = (offs[offset + i] as usize, offs[offset + i + 1] as usize);
                bytes(&values[s..e])
            })
        }
        DataType::LargeUtf8 | DataType::LargeBinary => {
            let offs = data.buffers()[0].typed_data::<i64>();
            let values = data.buffers()[1].as_slice();
            each(rows, &|i| {
                let (s, e) = (offs[offset + i] as usize, offs[offset + i + 1] as usize);
                bytes(&values[s..e])
            })
        }
        DataType::FixedSizeBinary(w) => {
            let w = *w as usize;
            let values = data.buffers()[0].as_slice();
            each(rows, &|i| {
                bytes(&values[(offset + i) * w..(offset + i + 1) * w])
            })
        }
        t => match t.primitive_width() {
            Some(8) => {
                let values = data.buffers()[0].typed_data::<u64>();
                each(rows, &|i| values[offset + i])
            }
            Some(w) => {
                let values = data.buffers()[0].as_slice();
                each(rows, &|i| {
                    bytes(&values[(offset + i) * w..(offset + i + 1) * w])
                })
            }
            // Nested or rare types: their text, slower but exact.
            None => {
                let options = arrow_cast::display::FormatOptions::default();
                match arrow_cast::display::ArrayFormatter::try_new(a, &options) {
                    Ok(f) => each(rows, &|i| bytes(f.value(i).to_string().as_bytes())),
                    Err(_) => each(rows, &|_| 0),
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, BooleanArray, Int64Array, StringArray};
    use std::sync::Arc;

    fn rows(ids: &[i64], names: &[Option<&str>], ok: &[bool]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            (
                "name",
                Arc::new(StringArray::from(names.to_vec())) as ArrayRef,
            ),
            ("ok", Arc::new(BooleanArray::from(ok.to_vec())) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn the_sum_ignores_order_and_batches_but_not_content() {
        let all = rows(
            &[1, 2, 3],
            &[Some("a"), None, Some("ccccccccccc")],
            &[true, false, true],
        );
        let whole = batch(&all);
        let split = batch(&all.slice(0, 1)).wrapping_add(batch(&all.slice(1, 2)));
        assert_eq!(whole, split, "batch boundaries and slices do not matter");
        let reordered = rows(
            &[3, 1, 2],
            &[Some("ccccccccccc"), Some("a"), None],
            &[true, true, false],
        );
        assert_eq!(whole, batch(&reordered), "row order does not matter");
        for other in [
            rows(
                &[1, 2, 3],
                &[Some("a"), None, Some("ccccccccccd")],
                &[true, false, true],
            ),
            rows(
                &[1, 2, 3],
                &[Some("a"), Some(""), Some("ccccccccccc")],
                &[true, false, true],
            ),
            rows(
                &[1, 2, 3],
                &[Some("a"), None, Some("ccccccccccc")],
                &[true, true, true],
            ),
            // Values swapped between rows are other rows.
            rows(
                &[2, 1, 3],
                &[Some("a"), None, Some("ccccccccccc")],
                &[true, false, true],
            ),
        ] {
            assert_ne!(whole, batch(&other));
        }
    }
}
