//! `cairn policy`: parse, format and evaluate Fabric signature policies and
//! implicit meta policies (see the `cairn-policy` crate for the semantics).

use std::process::ExitCode;

use anyhow::Context as _;
use cairn_policy::{ChannelOrgs, ChannelPolicy, SignaturePolicy, Signer, SignerSet};

/// `cairn policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCmd {
    /// Evaluate a policy against signers: prints `satisfied` (exit 0) or `not satisfied` (exit 1).
    Eval(EvalArgs),
    /// Print a policy in canonical form.
    Fmt {
        /// The policy, e.g. "and('Org1MSP.peer',\"Org2MSP.peer\")" or "MAJORITY Endorsement".
        policy: String,
    },
    /// List the organizations a signature policy mentions and minimal sets of them that satisfy it.
    Orgs {
        /// The signature policy.
        policy: String,
        /// Most organization sets to list.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
}

/// Arguments of `cairn policy eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The policy: a signature policy such as "AND('Org1MSP.peer', 'Org2MSP.peer')" or an
    /// implicit meta policy such as "MAJORITY Endorsement".
    policy: String,
    /// A signer as MSPID.role (role: admin, client, orderer or peer); repeat for each signer.
    /// The same text twice is one identity; add #1, #2... for distinct identities, e.g. Org1MSP.peer#2.
    #[arg(long = "signer", value_name = "MSPID.ROLE[#N]")]
    signers: Vec<String>,
    /// A channel organization, for implicit meta policies; repeat for each. Each gets Fabric's
    /// default policies (Readers, Writers, Admins, Endorsement, LifecycleEndorsement).
    /// Default: the organizations of the signers.
    #[arg(long = "org", value_name = "MSPID")]
    orgs: Vec<String>,
}

/// Runs a `cairn policy` subcommand.
pub fn run(cmd: PolicyCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCmd::Eval(args) => eval(&args),
        PolicyCmd::Fmt { policy } => {
            println!("{}", parse_policy(&policy)?);
            Ok(ExitCode::SUCCESS)
        }
        PolicyCmd::Orgs { policy, limit } => orgs(&policy, limit),
    }
}

fn parse_policy(text: &str) -> anyhow::Result<ChannelPolicy> {
    text.parse::<ChannelPolicy>()
        .with_context(|| format!("invalid policy {text:?}"))
}

fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let policy = parse_policy(&args.policy)?;
    let mut signers = SignerSet::new();
    for spec in &args.signers {
        let signer: Signer = spec
            .parse()
            .with_context(|| format!("invalid --signer {spec:?}"))?;
        signers.insert(signer);
    }
    let satisfied = match &policy {
        ChannelPolicy::Signature(p) => p.is_satisfied_by(&signers),
        ChannelPolicy::ImplicitMeta(meta) => {
            let org_ids: Vec<&str> = if args.orgs.is_empty() {
                signers.msp_ids()
            } else {
                args.orgs.iter().map(String::as_str).collect()
            };
            let channel = ChannelOrgs::with_fabric_defaults(&org_ids).context("invalid --org")?;
            let outcome = meta.evaluate(&channel, &signers);
            eprintln!(
                "{} of {} organization(s) satisfy {}; {} needs {}",
                outcome.satisfied_orgs.len(),
                outcome.total,
                meta.sub_policy(),
                meta.rule(),
                outcome.required
            );
            outcome.is_satisfied()
        }
    };
    if satisfied {
        println!("satisfied");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("not satisfied");
        Ok(ExitCode::from(1))
    }
}

fn orgs(text: &str, limit: usize) -> anyhow::Result<ExitCode> {
    let policy: SignaturePolicy = match parse_policy(text)? {
        ChannelPolicy::Signature(p) => p,
        ChannelPolicy::ImplicitMeta(meta) => anyhow::bail!(
            "'{meta}' is an implicit meta policy: which organizations satisfy it depends on \
             the channel; give a signature policy"
        ),
    };
    let mentioned: Vec<&str> = policy.orgs().into_iter().collect();
    println!("orgs: {}", mentioned.join(", "));
    for set in policy.minimal_org_sets(limit) {
        let set: Vec<&str> = set.into_iter().collect();
        println!("satisfied by: {}", set.join(" + "));
    }
    Ok(ExitCode::SUCCESS)
}
