//! `GET /api/v1/receipts`, what the field app checks each entry with: the
//! leaves, their inclusion proofs and the signed checkpoint they lead to,
//! checked here by an independent client (cloudflare/azul's `tlog_tiles`
//! and `signed_note`), on SQLite and, when DATABASE_URL is set, PostgreSQL.

mod common;

use base64::Engine as _;
use common::{backends, ok, token, Served};
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn b64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap()).unwrap()
}

#[test]
fn receipts_prove_each_entry_against_the_signed_checkpoint() {
    use signed_note::{Note, StandardVerifier, VerifierList};
    use tlog_tiles::{check_record, record_hash, Checkpoint, Hash};

    for (backend, init) in backends("receipts") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ops");
        let mut args = vec!["init", "--origin", "ops.example.org/receipts"];
        args.extend(init.iter().map(String::as_str));
        ok(&dir, &args);
        let key = ok(&dir, &["log", "key"]).trim().to_string();
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let s = Served::start(&dir, &[]);
        let http = Client::new();
        let events: Vec<Value> = (0..300)
            .map(|i| {
                json!({"v": 1, "id": format!("drop-{i}"), "time": "2016-12-23T09:00:00Z", "author": "hq",
                    "body": {"airdrop": {"airdrop": format!("drop-{i}"), "position": {"lat": 36.2, "lon": 37.15}, "contents": "food", "tonnes": 1.5, "recovered": true}}})
            })
            .collect();
        let r = http.post(s.url("/api/v1/events")).bearer_auth(&hq).json(&events).send().unwrap();
        assert_eq!(r.status(), 201, "{backend}");
        let get = |q: &str, t: &str| http.get(s.url(&format!("/api/v1/receipts{q}"))).bearer_auth(t).send().unwrap();

        // Scattered indexes, a run, a duplicate, and one beyond the log.
        let r = get("?indexes=0,5,6,7,255,256,299,7,5000", &hq);
        assert_eq!(r.status(), 200, "{backend}");
        let body: Value = r.json().unwrap();
        assert_eq!(body["pending"], json!([5000]), "{backend}: an index the checkpoint does not cover is pending");
        let note = Note::from_bytes(body["checkpoint"].as_str().unwrap().as_bytes()).unwrap();
        let (verified, _) = note.verify(&VerifierList::new(vec![Box::new(StandardVerifier::new(&key).unwrap())])).unwrap();
        assert_eq!(verified.len(), 1, "{backend}: the checkpoint is signed by the log's key");
        let cp = Checkpoint::from_bytes(note.text()).unwrap();
        assert_eq!(cp.size(), body["size"].as_u64().unwrap());
        assert_eq!(cp.size(), 300);
        let receipts = body["receipts"].as_array().unwrap();
        assert_eq!(receipts.iter().map(|r| r["index"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 5, 6, 7, 255, 256, 299], "{backend}");
        for rc in receipts {
            let i = rc["index"].as_u64().unwrap();
            let leaf = b64(&rc["leaf"]);
            let event: Value = serde_json::from_slice(&leaf).unwrap();
            assert_eq!(event["id"], format!("drop-{i}"), "{backend}: the leaf at {i} is the event sent {i}th");
            let proof: Vec<Hash> = rc["proof"].as_array().unwrap().iter().map(|h| Hash(b64(h).try_into().unwrap())).collect();
            check_record(&proof, cp.size(), *cp.hash(), i, record_hash(&leaf)).unwrap_or_else(|e| panic!("{backend}: entry {i}: {e:?}"));
            // A proof with one hash changed does not check.
            let mut bad = proof.clone();
            bad[0].0[0] ^= 1;
            assert!(check_record(&bad, cp.size(), *cp.hash(), i, record_hash(&leaf)).is_err());
        }

        // Bad requests say what to send; no token is a 401.
        for (q, says) in [("?indexes=abc", "is not an entry index"), ("?indexes=", "give 1 to 1000"), ("", "indexes"), ("?indexes=99999999999999999999", "1 to 18 digits"), ("?indexes=5,%206", "is not an entry index"), ("?indexes=5,,6", "is not an entry index"), ("?indexes=%2B5", "is not an entry index")] {
            let r = get(q, &hq);
            assert_eq!(r.status(), 400, "{backend}: {q}");
            let e: Value = r.json().unwrap();
            assert!(e["error"].as_str().unwrap().contains(says), "{backend}: {q}: {e}");
        }
        let many = (0..1001).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert_eq!(get(&format!("?indexes={many}"), &hq).status(), 400);
        assert_eq!(http.get(s.url("/api/v1/receipts?indexes=1")).send().unwrap().status(), 401);
        drop(s);
        if let [_, url, _, schema] = init.as_slice() {
            corridor_ledger::store::postgres::drop_schema(url, schema).expect("drop test schema");
        }
    }
}
