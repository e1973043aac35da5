//! Tagging a clip by the evaluation protocol: chunk positions, clip scores as the mean of chunk
//! sigmoids, batching, the tag groups and prior, and Flex against NdArray.

use super::*;

#[test]
fn flex_and_ndarray_agree() {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    let flex = Device::flex();
    let model = ModNetConfig::small().init(&flex).unwrap();
    let bytes = model.to_bytes().unwrap();
    let other = ModNet::from_bytes(&bytes, &ndarray).unwrap();
    let x: Vec<f32> = (0..2 * SECOND)
        .map(|i| (i as f32 * 0.05).sin() * 0.3 + ((i * 7919) % 1000) as f32 / 5000.0)
        .collect();
    let run = |m: &ModNet, d: &Device| {
        values(
            m.forward(Tensor::from_data(
                TensorData::new(x.clone(), [1, x.len()]),
                d,
            ))
            .unwrap(),
        )
    };
    let (a, b) = (run(&model, &flex), run(&other, &ndarray));
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    println!("flex vs ndarray: max |diff| {worst:e} on logits up to {scale}");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 1e-4 * scale.max(1.0),
            "flex {x} vs ndarray {y}"
        );
    }
}

#[test]
fn evaluation_protocol_positions() {
    // A 29.1 s MTAT clip: hop = (len − 80000) / 16.
    let len = 465_984;
    let plan = ChunkPlan::evaluation(len, 80_000, 16).unwrap();
    let hop = (len - 80_000) / 16;
    assert_eq!(plan.starts, (0..16).map(|i| i * hop).collect::<Vec<_>>());
    assert!(!plan.padded && plan.notice(SampleRate::PAPER).is_none());
    assert!(plan.starts[15] + 80_000 <= len);

    let short = ChunkPlan::evaluation(3 * SECOND, 80_000, 16).unwrap();
    assert_eq!(short.starts, vec![0]);
    assert!(
        short
            .notice(SampleRate::PAPER)
            .unwrap()
            .contains("zero-padded")
    );
    let rows = short.batch(0, &vec![1.0; 3 * SECOND]).unwrap().samples;
    assert_eq!(rows.len(), 80_000);
    assert_eq!(short.batch(1, &vec![1.0; 3 * SECOND]), None);
    // One chunk anywhere (the page's pictures): moved back inside the clip, padded past its end.
    let one = ChunkPlan::one_at(3 * SECOND, 80_000, 10 * SECOND).unwrap();
    assert_eq!(
        (one.starts.clone(), one.padded),
        (vec![3 * SECOND - 1], true)
    );
    let whole = ChunkPlan::one_at(12 * SECOND, 80_000, SECOND).unwrap();
    assert_eq!((whole.starts.clone(), whole.padded), (vec![SECOND], false));
    assert_eq!(rows.iter().sum::<f32>(), (3 * SECOND) as f32);

    // A clip less than 16 samples longer than a chunk: one chunk, not 16 identical ones.
    for len in [80_000, 80_015] {
        let one = ChunkPlan::evaluation(len, 80_000, 16).unwrap();
        assert_eq!(one.starts, vec![0]);
        assert!(!one.padded);
    }
    assert_eq!(ChunkPlan::evaluation(80_016, 80_000, 16).unwrap().len(), 16);

    // The last timeline chunk ends at the clip's end: no chunk of mostly zero padding.
    let timeline = ChunkPlan::timeline(12 * SECOND, 80_000).unwrap();
    assert_eq!(timeline.starts, vec![0, 80_000, 112_000]);
    assert!(!timeline.padded && timeline.notice(SampleRate::PAPER).is_none());
    let short = ChunkPlan::timeline(3 * SECOND, 80_000).unwrap();
    assert!(short.padded && short.starts == vec![0]);
    assert_eq!(
        ChunkPlan::timeline(0, 80_000).unwrap_err(),
        ModelError::EmptyInput
    );
}

#[test]
fn clip_score_is_the_mean_of_chunk_sigmoids() {
    let device = Device::flex();
    let model = ModNetConfig::small().init(&device).unwrap();
    let samples: Vec<f32> = (0..7 * SECOND)
        .map(|i| ((i as f32) * 0.01).sin() * 0.2)
        .collect();
    let plan = ChunkPlan::evaluation(samples.len(), 80_000, 16).unwrap();
    // Each chunk alone, against the clip run in batches of four.
    let chunks = chunk_by_chunk(&model, &samples, &plan, &device);
    let clip = model
        .tag_clip(&samples, false, &device)
        .unwrap()
        .probabilities;
    for tag in 0..50 {
        let mean = (0..16).map(|c| chunks[c * 50 + tag]).sum::<f32>() / 16.0;
        assert!((mean - clip[tag]).abs() < 1e-5);
    }
}

#[test]
fn every_mtat_tag_has_its_group() {
    use modnet::{MTAT_TAGS, TagGroup};
    let count = |g: TagGroup| MTAT_TAGS.iter().filter(|t| TagGroup::of(t) == g).count();
    // 13 genres, 12 instruments, 16 vocal tags, 6 moods: the 3 left are beat, beats and solo.
    assert_eq!(count(TagGroup::Genre), 13);
    assert_eq!(count(TagGroup::Instrument), 12);
    assert_eq!(count(TagGroup::Vocal), 16);
    assert_eq!(count(TagGroup::Mood), 6);
    let other: Vec<&str> = MTAT_TAGS
        .iter()
        .copied()
        .filter(|t| TagGroup::of(t) == TagGroup::Other)
        .collect();
    assert_eq!(other, ["beat", "solo", "beats"]);
    assert_eq!(TagGroup::of("not an MTAT tag"), TagGroup::Other);
}

#[test]
fn tag_prior_sets_the_output_biases() {
    let device = Device::flex();
    let model = small_widths(ModNetConfig::small()).init(&device).unwrap();
    let prior: Vec<f32> = (0..50).map(|i| 0.01 + 0.019 * i as f32).collect();
    let model = model.with_tag_prior(&prior).unwrap();
    let bytes = model.to_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let name = file
        .names()
        .into_iter()
        .find(|n| n.contains("dense2") && n.ends_with("bias"))
        .expect("a head bias tensor")
        .to_string();
    let bias: Vec<f32> = file
        .tensor(&name)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for (b, p) in bias.iter().zip(&prior) {
        let logit = (p / (1.0 - p)).ln();
        assert!((b - logit).abs() < 1e-5, "{b} vs {logit}");
    }
    assert!(matches!(
        small_widths(ModNetConfig::small())
            .init(&device)
            .unwrap()
            .with_tag_prior(&[0.5; 3]),
        Err(ModelError::Shape(_))
    ));
}

#[test]
fn clip_tagging_batches_and_reduces_as_the_protocol_says() {
    use modnet::TAG_BATCH;
    let device = Device::flex();
    let model = small_widths(ModNetConfig::small()).init(&device).unwrap();
    let chunk = model.config().chunk_samples;
    let samples: Vec<f32> = (0..chunk * 5 / 2)
        .map(|i| ((i as f32) * 0.003).sin() * 0.3)
        .collect();
    let tagging = ClipTagging::new(samples.len(), chunk, true).unwrap();
    assert_eq!(tagging.evaluation.len(), 16);
    assert_eq!(tagging.timeline.len(), 3);
    let batches: Vec<_> = (0..tagging.batch_count())
        .map(|i| tagging.batch(i, &samples).unwrap())
        .collect();
    // 16 evaluation chunks in batches of 4, then 3 timeline chunks in one.
    assert_eq!(batches.len(), 16 / TAG_BATCH + 1);
    assert_eq!(tagging.batch(batches.len(), &samples), None);
    // A long clip: 16 + 25 chunks, the timeline's last batch a partial one.
    let long = ClipTagging::new(chunk * 25, chunk, true).unwrap();
    assert_eq!(long.batch_count(), 4 + 7);
    // Batch by batch from the plans: the evaluation's first, then the timeline's.
    let ramp: Vec<f32> = (0..chunk * 25).map(|i| i as f32).collect();
    for index in 0..long.batch_count() {
        let (plan, i) = if index < 4 {
            (&long.evaluation, index)
        } else {
            (&long.timeline, index - 4)
        };
        assert_eq!(
            long.batch(index, &ramp),
            plan.batch(i, &ramp),
            "batch {index}"
        );
    }
    let timeline_last = long.batch(long.batch_count() - 1, &ramp).unwrap();
    assert_eq!(timeline_last.rows, 25 % TAG_BATCH);
    assert_eq!(timeline_last.samples[0], (24 * chunk) as f32);
    assert_eq!(long.batch(long.batch_count(), &ramp), None);
    assert!(batches.iter().all(|b| b.samples.len() == b.rows * chunk));
    let per_batch: Vec<Vec<f32>> = batches
        .iter()
        .map(|b| values(model.probabilities(b.tensor(&device)).unwrap()))
        .collect();
    let tags = tagging
        .finish(per_batch.clone(), 50, SampleRate::PAPER)
        .unwrap();
    assert_eq!(tags.timeline.len(), 3);
    assert_eq!(tags.timeline_starts, vec![0, chunk, samples.len() - chunk]);
    // The timeline as the page draws it: rows = tags, columns = chunks.
    let picture = tags.timeline_picture();
    assert_eq!((picture.rows, picture.cols), (50, 3));
    for (c, row) in tags.timeline.iter().enumerate() {
        for (t, &p) in row.iter().enumerate() {
            assert_eq!(picture.values[t * 3 + c], p);
        }
    }
    let direct = chunk_by_chunk(&model, &samples, &tagging.evaluation, &device);
    for t in 0..50 {
        let mean = (0..16).map(|c| direct[c * 50 + t]).sum::<f32>() / 16.0;
        assert!((mean - tags.probabilities[t]).abs() < 1e-5);
    }
    // Probabilities of the wrong size are refused, not misread.
    let mut short = per_batch.clone();
    short[4].pop();
    assert!(tagging.finish(short, 50, SampleRate::PAPER).is_err());
    assert!(
        tagging
            .finish(per_batch[1..].to_vec(), 50, SampleRate::PAPER)
            .is_err()
    );

    // Batch by batch, as several workers give them back: nothing until the evaluation batches
    // are in, then the final clip tags with the timeline filling in.
    let mut results = ClipResults::new(tagging.clone(), 50, SampleRate::PAPER);
    assert_eq!(results.total(), 19);
    for i in [4, 0, 2, 1] {
        assert!(results.add(i, per_batch[i].clone()).unwrap().is_none());
    }
    assert_eq!(results.done(), 3 + 12);
    // A batch given twice is counted once.
    assert!(results.add(4, per_batch[4].clone()).unwrap().is_none());
    assert_eq!(results.done(), 15);
    let mut early = ClipResults::new(tagging.clone(), 50, SampleRate::PAPER);
    for (i, batch) in per_batch.iter().enumerate().take(4) {
        early.add(i, batch.clone()).unwrap();
    }
    let early = early.tags().unwrap();
    assert_eq!(early.probabilities, tags.probabilities);
    assert_eq!(early.timeline.len(), 3);
    assert!(early.timeline.iter().all(Vec::is_empty));
    assert_eq!(early.timeline_done(), 0);
    assert!(!results.is_complete());
    let done = results.add(3, per_batch[3].clone()).unwrap().unwrap();
    assert!(results.is_complete());
    assert_eq!(done, tags);
    // A batch of the wrong size, or one the clip does not have, is refused and not kept.
    assert!(results.add(4, per_batch[4][1..].to_vec()).is_err());
    assert!(results.add(5, per_batch[4].clone()).is_err());
    assert_eq!(results.tags().unwrap(), tags);
}
