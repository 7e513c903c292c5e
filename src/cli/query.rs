//! `trace query`: arguments and their resolution into a [`QueryConfig`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;

use crate::error::Error;
use crate::query::{self, catalog, format, OutputFormat, QueryConfig, QuerySource};
use crate::vocab::CategoryAxis;

/// Arguments of `trace query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Query name (queries/<name>.sql); see --list.
    #[arg(conflicts_with_all = ["sql", "list"])]
    pub name: Option<String>,
    /// Ad-hoc SQL instead of a named query.
    #[arg(long)]
    pub sql: Option<String>,
    /// List the available queries with their descriptions.
    #[arg(long)]
    pub list: bool,
    /// Dataset root.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub data: PathBuf,
    /// Only this run.
    #[arg(long)]
    pub run: Option<String>,
    /// Group by the block each kernel ran in (`category`, modules first) or by the
    /// kind of work its name says (`name_category`): the `by` parameter of
    /// categories-by-shape, kernels-by-phase and top-kernels.
    #[arg(long, value_enum)]
    pub by: Option<CategoryAxis>,
    /// Query parameter, KEY=VALUE (repeatable).
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write to this file instead of stdout (required for parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Directory with user queries (takes precedence over the built-in ones);
    /// default: `./queries` when it exists.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Run on an Apache DataFusion Ballista cluster (`df://HOST:PORT` of a
    /// `trace cluster scheduler`) whose executors see --data at the same path; the
    /// output is what the local engine prints. Needs a build with `--features cluster`.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
    /// Allow COPY … TO / CREATE EXTERNAL TABLE … LOCATION / INSERT, to paths
    /// outside the dataset only (queries are read-only without it).
    #[arg(long)]
    pub allow_write: bool,
}

/// The user-query directory: `--queries DIR` (which must exist), else `./queries`.
fn queries_dir(given: Option<&std::path::Path>) -> Result<PathBuf, Error> {
    match given {
        Some(dir) if !dir.is_dir() => Err(Error::Usage(format!(
            "--queries {}: no such directory (it holds your own queries/*.sql)",
            dir.display()
        ))),
        Some(dir) => Ok(dir.to_path_buf()),
        None => Ok(PathBuf::from("queries")),
    }
}

fn parse_param(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {raw:?}")),
    }
}

impl QueryArgs {
    /// The arguments `trace demo` uses.
    pub fn for_demo(name: &str, data: PathBuf) -> Self {
        QueryArgs {
            name: Some(name.to_string()),
            sql: None,
            list: false,
            data,
            run: None,
            by: None,
            params: Vec::new(),
            format: OutputFormat::Table,
            out: None,
            queries: None,
            cluster: None,
            allow_write: false,
        }
    }
}

/// Runs `trace query`.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    if args.list {
        let mut out = crate::console::stdout();
        for q in catalog::list(Some(&queries_dir(args.queries.as_deref())?))? {
            let params: Vec<String> = q
                .params
                .iter()
                .map(|(k, d)| match d {
                    Some(d) => format!("{k}={d}"),
                    None => k.clone(),
                })
                .collect();
            let params = if params.is_empty() {
                String::new()
            } else {
                format!("  [{}]", params.join(", "))
            };
            writeln!(out, "{:<22} {}{params}", q.name, q.description)?;
        }
        return Ok(());
    }
    let source = match (args.name, args.sql) {
        (Some(name), None) => QuerySource::Named(name),
        (None, Some(sql)) => QuerySource::Sql(sql),
        _ => bail!(Error::Usage(
            "give a query name, --sql \"SELECT …\", or --list".into()
        )),
    };
    if args.format == OutputFormat::Parquet && args.out.is_none() {
        bail!(Error::Usage("--format parquet needs --out FILE".into()));
    }
    if let Some(out) = &args.out {
        crate::dataset::layout::refuse_output_inside(&args.data, out, "--out")?;
    }
    let mut params = args.params;
    if let Some(by) = args.by {
        if params.iter().any(|(k, _)| k == "by") {
            bail!(Error::Usage("give --by or --param by=…, not both".into()));
        }
        params.push(("by".to_string(), by.as_str().to_string()));
    }
    let config = QueryConfig {
        data_dir: args.data,
        source,
        run: args.run,
        params,
        queries_dir: Some(queries_dir(args.queries.as_deref())?),
    };
    let writes = if args.allow_write {
        query::session::Writes::OutsideDataset
    } else {
        query::session::Writes::None
    };
    let empty_hint = match &config.source {
        QuerySource::Named(name) => catalog::find(name, config.queries_dir.as_deref())
            .ok()
            .and_then(|q| q.empty_hint),
        QuerySource::Sql(_) => None,
    };
    let result = query::execute_on(&config, writes, args.cluster.as_deref())?;
    match &args.out {
        Some(path) => format::write_file(args.format, &result.schema, &result.batches, path)?,
        None => {
            let mut out = crate::console::stdout();
            format::write(args.format, &result.schema, &result.batches, &mut out)?;
            out.flush()?;
        }
    }
    if result.num_rows() == 0 {
        if let Some(hint) = empty_hint {
            crate::say!("note: {hint}");
        }
    }
    Ok(())
}
