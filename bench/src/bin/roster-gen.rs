//! Writes a synthetic OneRoster 1.1 bulk file set (Japan profile columns) for a board of N
//! students: schools of 600 students, homerooms of 40 with one teacher each, a guardian per
//! student. Used to measure imports of board scale (see BENCHMARKS.md).
//!
//! Usage: `roster-gen STUDENTS OUTPUT_DIR`

use std::error::Error;
use std::path::Path;

const STUDENTS_PER_SCHOOL: usize = 600;
const CLASS_SIZE: usize = 40;
const FAMILY: [&str; 10] = [
    "山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤",
];
const FAMILY_KANA: [&str; 10] = [
    "ヤマダ",
    "サトウ",
    "スズキ",
    "タカハシ",
    "タナカ",
    "イトウ",
    "ワタナベ",
    "ナカムラ",
    "コバヤシ",
    "カトウ",
];
const GIVEN: [&str; 8] = ["太郎", "花子", "一郎", "さくら", "蓮", "陽葵", "湊", "結衣"];
const GIVEN_KANA: [&str; 8] = [
    "タロウ",
    "ハナコ",
    "イチロウ",
    "サクラ",
    "レン",
    "ヒマリ",
    "ミナト",
    "ユイ",
];

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(count), Some(out)) = (
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
        args.get(2),
    ) else {
        eprintln!("usage: roster-gen STUDENTS OUTPUT_DIR");
        std::process::exit(2);
    };
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    let schools = count.div_ceil(STUDENTS_PER_SCHOOL);
    let classes_per_school = STUDENTS_PER_SCHOOL.div_ceil(CLASS_SIZE);
    let writer =
        |name: &str, header: &[&str]| -> Result<csv::Writer<std::fs::File>, Box<dyn Error>> {
            let mut w = csv::Writer::from_path(out.join(name))?;
            w.write_record(header)?;
            Ok(w)
        };
    let mut manifest = writer("manifest.csv", &["propertyName", "value"])?;
    for (k, v) in [
        ("manifest.version", "1.0"),
        ("oneroster.version", "1.1"),
        ("file.orgs", "bulk"),
        ("file.academicSessions", "bulk"),
        ("file.courses", "bulk"),
        ("file.classes", "bulk"),
        ("file.users", "bulk"),
        ("file.enrollments", "bulk"),
        ("source.systemName", "roster-gen"),
    ] {
        manifest.write_record([k, v])?;
    }
    manifest.flush()?;
    let mut orgs = writer(
        "orgs.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "name",
            "type",
            "identifier",
            "parentSourcedId",
        ],
    )?;
    orgs.write_record(["board", "", "", "合成市教育委員会", "district", "", ""])?;
    for s in 0..schools {
        orgs.write_record([
            format!("sch{s}"),
            String::new(),
            String::new(),
            format!("合成市立第{s}小学校"),
            "school".into(),
            String::new(),
            "board".into(),
        ])?;
    }
    orgs.flush()?;
    let mut sessions = writer(
        "academicSessions.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "type",
            "startDate",
            "endDate",
            "parentSourcedId",
            "schoolYear",
        ],
    )?;
    sessions.write_record([
        "y2026",
        "",
        "",
        "2026年度",
        "schoolYear",
        "2026-04-01",
        "2027-03-31",
        "",
        "2026",
    ])?;
    sessions.flush()?;
    let mut courses = writer(
        "courses.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "schoolYearSourcedId",
            "title",
            "courseCode",
            "grades",
            "orgSourcedId",
            "subjects",
            "subjectCodes",
        ],
    )?;
    let mut classes = writer(
        "classes.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "grades",
            "courseSourcedId",
            "classCode",
            "classType",
            "location",
            "schoolSourcedId",
            "termSourcedIds",
            "subjects",
            "subjectCodes",
            "periods",
        ],
    )?;
    for s in 0..schools {
        courses.write_record([
            format!("hr{s}"),
            String::new(),
            String::new(),
            "y2026".into(),
            "2026年度 学級活動".into(),
            String::new(),
            "P1,P2,P3,P4,P5,P6".into(),
            format!("sch{s}"),
            String::new(),
            String::new(),
        ])?;
        for c in 0..classes_per_school {
            let grade = format!("P{}", c % 6 + 1);
            classes.write_record([
                format!("cls{s}-{c}"),
                String::new(),
                String::new(),
                format!("{}年{}組", c % 6 + 1, c / 6 + 1),
                grade,
                format!("hr{s}"),
                String::new(),
                "homeroom".into(),
                String::new(),
                format!("sch{s}"),
                "y2026".into(),
                String::new(),
                String::new(),
                String::new(),
            ])?;
        }
    }
    courses.flush()?;
    classes.flush()?;
    let user_header = [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "metadata.jp.kanaGivenName",
        "metadata.jp.kanaFamilyName",
        "metadata.jp.kanaMiddleName",
        "metadata.jp.homeClass",
    ];
    let mut users = writer("users.csv", &user_header)?;
    let mut enrollments = writer(
        "enrollments.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "classSourcedId",
            "schoolSourcedId",
            "userSourcedId",
            "role",
            "primary",
            "beginDate",
            "endDate",
            "metadata.jp.shussekiNo",
        ],
    )?;
    let empty = String::new();
    for i in 0..count {
        let (s, within) = (i / STUDENTS_PER_SCHOOL, i % STUDENTS_PER_SCHOOL);
        let c = within / CLASS_SIZE;
        let class = format!("cls{s}-{c}");
        let (f, g) = (i % FAMILY.len(), (i / FAMILY.len()) % GIVEN.len());
        let id = format!("st{i}");
        users.write_record([
            &id,
            &empty,
            &empty,
            "true",
            &format!("sch{s}"),
            "student",
            &id,
            &empty,
            GIVEN[g],
            FAMILY[f],
            &empty,
            &empty,
            &empty,
            &empty,
            &empty,
            &format!("gd{i}"),
            &format!("P{}", c % 6 + 1),
            &empty,
            GIVEN_KANA[g],
            FAMILY_KANA[f],
            &empty,
            &class,
        ])?;
        users.write_record([
            &format!("gd{i}"),
            &empty,
            &empty,
            "true",
            &format!("sch{s}"),
            "parent",
            &format!("gd{i}"),
            &empty,
            "保護者",
            FAMILY[f],
            &empty,
            &empty,
            &empty,
            &empty,
            &empty,
            &id,
            &empty,
            &empty,
            "ホゴシャ",
            FAMILY_KANA[f],
            &empty,
            &empty,
        ])?;
        enrollments.write_record([
            &format!("en{i}"),
            &empty,
            &empty,
            &class,
            &format!("sch{s}"),
            &id,
            "student",
            "false",
            "2026-04-01",
            &empty,
            &(within % CLASS_SIZE + 1).to_string(),
        ])?;
    }
    for s in 0..schools {
        for c in 0..classes_per_school {
            let id = format!("te{s}-{c}");
            users.write_record([
                &id,
                &empty,
                &empty,
                "true",
                &format!("sch{s}"),
                "teacher",
                &id,
                &empty,
                "先生",
                FAMILY[c % FAMILY.len()],
                &empty,
                &empty,
                &empty,
                &empty,
                &empty,
                &empty,
                &empty,
                &empty,
                "センセイ",
                FAMILY_KANA[c % FAMILY.len()],
                &empty,
                &empty,
            ])?;
            enrollments.write_record([
                &format!("en-{id}"),
                &empty,
                &empty,
                &format!("cls{s}-{c}"),
                &format!("sch{s}"),
                &id,
                "teacher",
                "true",
                "2026-04-01",
                &empty,
                &empty,
            ])?;
        }
    }
    users.flush()?;
    enrollments.flush()?;
    println!(
        "wrote a board of {count} students in {schools} schools to {}",
        out.display()
    );
    Ok(())
}
