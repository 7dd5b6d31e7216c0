//! Recursive-descent parser for Fabric's policy text.
//!
//! Grammar (whitespace allowed between tokens):
//!
//! ```text
//! policy    := gate END
//! gate      := AND '(' rule (',' rule)* ')'
//!            | OR '(' rule (',' rule)* ')'
//!            | OUTOF '(' threshold (',' rule)+ ')'
//! rule      := gate | principal
//! principal := quoted 'MSPID.role' or "MSPID.role"
//! threshold := integer, or an integer in quotes (Fabric's TestOutOfNumIsString)
//! meta      := (ANY | ALL | MAJORITY) NAME END
//! ```
//!
//! Gate spellings are the ones Fabric registers: `AND`/`And`/`and`,
//! `OR`/`Or`/`or`, `OutOf`/`outof`/`OUTOF`.

use crate::error::{ParseError, PolicyError};
use crate::limits::{MAX_DEPTH, MAX_PRINCIPALS};
use crate::meta::{ChannelPolicy, ImplicitMetaPolicy, MetaRule};
use crate::policy::{Rule, SignaturePolicy};
use crate::principal::{Principal, split_principal};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    Comma,
    End,
    Ident(&'a str),
    LParen,
    Number(&'a str),
    RParen,
    /// Content between the quotes.
    Str(&'a str),
}

impl Tok<'_> {
    fn describe(self) -> String {
        match self {
            Tok::Comma => "','".to_owned(),
            Tok::End => "end of input".to_owned(),
            Tok::Ident(s) => format!("identifier '{s}'"),
            Tok::LParen => "'('".to_owned(),
            Tok::Number(s) => format!("number {s}"),
            Tok::RParen => "')'".to_owned(),
            Tok::Str(s) => format!("string '{s}'"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    pos: usize,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Token<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            peeked: None,
        }
    }

    fn peek(&mut self) -> Result<Token<'a>, ParseError> {
        if let Some(t) = self.peeked {
            return Ok(t);
        }
        let t = self.lex()?;
        self.peeked = Some(t);
        Ok(t)
    }

    fn next(&mut self) -> Result<Token<'a>, ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    fn take_while(&mut self, start: usize, pred: impl Fn(u8) -> bool) -> &'a str {
        let bytes = self.src.as_bytes();
        let mut end = start;
        while end < bytes.len() && pred(bytes[end]) {
            end += 1;
        }
        self.pos = end;
        &self.src[start..end]
    }

    fn lex(&mut self) -> Result<Token<'a>, ParseError> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let pos = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(Token { tok: Tok::End, pos });
        };
        let tok = match c {
            '(' => {
                self.pos += 1;
                Tok::LParen
            }
            ')' => {
                self.pos += 1;
                Tok::RParen
            }
            ',' => {
                self.pos += 1;
                Tok::Comma
            }
            '\'' | '"' => {
                let body = &trimmed[1..];
                let Some(len) = body.find(c) else {
                    return Err(ParseError::new(pos, PolicyError::UnterminatedString));
                };
                self.pos += len + 2;
                Tok::Str(&body[..len])
            }
            c if c.is_ascii_digit() || c == '-' => {
                // Take the whole word so `2x` or `1.5` is one bad threshold, not two tokens.
                self.pos += 1;
                let word = self.take_while(pos + 1, |b| {
                    b.is_ascii_alphanumeric() || b == b'.' || b == b'_'
                });
                Tok::Number(&self.src[pos..pos + 1 + word.len()])
            }
            c if c.is_ascii_alphabetic() || c == '_' => Tok::Ident(self.take_while(pos, |b| {
                b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
            })),
            other => {
                return Err(ParseError::new(
                    pos,
                    PolicyError::UnexpectedCharacter { found: other },
                ));
            }
        };
        Ok(Token { tok, pos })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    And,
    Or,
    OutOf,
}

fn gate_of(name: &str) -> Option<Gate> {
    match name {
        "AND" | "And" | "and" => Some(Gate::And),
        "OR" | "Or" | "or" => Some(Gate::Or),
        "OutOf" | "outof" | "OUTOF" => Some(Gate::OutOf),
        _ => None,
    }
}

const EXPECT_GATE: &str = "a gate: AND(...), OR(...) or OutOf(n, ...)";
const EXPECT_RULE: &str = "a quoted principal such as 'Org1MSP.peer' or a nested gate";
const EXPECT_SEPARATOR: &str = "',' or ')'";

/// Reads the end of input, or names what is left over.
fn expect_end(lexer: &mut Lexer<'_>) -> Result<(), ParseError> {
    let t = lexer.next()?;
    match t.tok {
        Tok::End => Ok(()),
        Tok::RParen => Err(ParseError::new(t.pos, PolicyError::UnmatchedCloseParen)),
        other => Err(ParseError::new(
            t.pos,
            PolicyError::TrailingInput {
                found: other.describe(),
            },
        )),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    principals: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            lexer: Lexer::new(src),
            principals: 0,
        }
    }

    fn unexpected(token: Token<'_>, expected: &'static str) -> ParseError {
        let kind = match token.tok {
            Tok::End => PolicyError::UnexpectedEnd { expected },
            other => PolicyError::UnexpectedToken {
                found: other.describe(),
                expected,
            },
        };
        ParseError::new(token.pos, kind)
    }

    /// The top level: exactly one gate, then the end.
    fn policy(&mut self) -> Result<SignaturePolicy, ParseError> {
        let first = self.lexer.next()?;
        let root = match first.tok {
            Tok::Ident(name) => self.gate(name, first.pos, 1)?,
            Tok::Str(text) => {
                let principal = self.principal(text, first.pos)?;
                return Err(ParseError::new(
                    first.pos,
                    PolicyError::PrincipalAtRoot {
                        principal: principal.to_string(),
                    },
                ));
            }
            _ => return Err(Self::unexpected(first, EXPECT_GATE)),
        };
        self.end()?;
        Ok(SignaturePolicy::from_checked(root))
    }

    fn end(&mut self) -> Result<(), ParseError> {
        expect_end(&mut self.lexer)
    }

    /// A gate whose name token was just read at `name_pos`.
    fn gate(&mut self, name: &str, name_pos: usize, depth: usize) -> Result<Rule, ParseError> {
        let open = self.lexer.next()?;
        let gate = match gate_of(name) {
            Some(gate) if open.tok == Tok::LParen => gate,
            Some(_) => return Err(Self::unexpected(open, "'(' after the gate name")),
            None if open.tok == Tok::LParen => {
                return Err(ParseError::new(
                    name_pos,
                    PolicyError::UnknownGate {
                        name: name.to_owned(),
                    },
                ));
            }
            None if name.contains('.') => {
                return Err(ParseError::new(
                    name_pos,
                    PolicyError::UnquotedPrincipal {
                        text: name.to_owned(),
                    },
                ));
            }
            None => {
                return Err(ParseError::new(
                    name_pos,
                    PolicyError::UnexpectedToken {
                        found: Tok::Ident(name).describe(),
                        expected: EXPECT_RULE,
                    },
                ));
            }
        };
        if depth > MAX_DEPTH {
            return Err(ParseError::new(name_pos, PolicyError::TooDeep));
        }
        let empty = || {
            ParseError::new(
                name_pos,
                PolicyError::EmptyGate {
                    gate: name.to_owned(),
                },
            )
        };
        let unclosed =
            |at: usize| ParseError::new(at, PolicyError::UnclosedParen { open: open.pos });

        // Only OutOf has a threshold: `Some` exactly when `gate` is OutOf.
        let mut threshold = None;
        if gate == Gate::OutOf {
            let t = self.lexer.next()?;
            let text = match t.tok {
                Tok::Number(text) | Tok::Str(text) => text,
                Tok::RParen => return Err(empty()),
                Tok::End => return Err(unclosed(t.pos)),
                _ => return Err(Self::unexpected(t, "the OutOf threshold n")),
            };
            let n: i64 = text.trim().parse().map_err(|_| {
                ParseError::new(
                    t.pos,
                    PolicyError::InvalidThreshold {
                        text: text.to_owned(),
                    },
                )
            })?;
            threshold = Some((n, t.pos));
            let sep = self.lexer.next()?;
            match sep.tok {
                Tok::Comma => {}
                Tok::RParen => return Err(empty()),
                Tok::End => return Err(unclosed(sep.pos)),
                _ => return Err(Self::unexpected(sep, "',' after the OutOf threshold")),
            }
        }

        let mut rules = Vec::new();
        loop {
            let t = self.lexer.next()?;
            let rule = match t.tok {
                Tok::Str(text) => Rule::SignedBy(self.principal(text, t.pos)?),
                Tok::Ident(inner) => self.gate(inner, t.pos, depth + 1)?,
                Tok::RParen if rules.is_empty() && threshold.is_none() => return Err(empty()),
                Tok::End => return Err(unclosed(t.pos)),
                _ => return Err(Self::unexpected(t, EXPECT_RULE)),
            };
            rules.push(rule);
            let sep = self.lexer.next()?;
            match sep.tok {
                Tok::Comma => {}
                Tok::RParen => break,
                Tok::End => return Err(unclosed(sep.pos)),
                _ => return Err(Self::unexpected(sep, EXPECT_SEPARATOR)),
            }
        }

        let Some((n, n_pos)) = threshold else {
            return Ok(match gate {
                Gate::And => Rule::And(rules),
                // OutOf always has a threshold, so it never gets here.
                Gate::Or | Gate::OutOf => Rule::Or(rules),
            });
        };
        let in_range = usize::try_from(n).ok().filter(|n| *n <= rules.len() + 1);
        let Some(n) = in_range else {
            return Err(ParseError::new(
                n_pos,
                PolicyError::ThresholdOutOfRange {
                    n,
                    rules: rules.len(),
                },
            ));
        };
        Ok(Rule::OutOf(n, rules))
    }

    /// The content of a quoted principal whose opening quote is at `quote_pos`.
    fn principal(&mut self, text: &str, quote_pos: usize) -> Result<Principal, ParseError> {
        let at = quote_pos + 1;
        let (msp_id, role, role_at) = split_principal(text).map_err(|e| ParseError::new(at, e))?;
        let role = role.parse().map_err(|e| ParseError::new(at + role_at, e))?;
        self.principals += 1;
        if self.principals > MAX_PRINCIPALS {
            return Err(ParseError::new(quote_pos, PolicyError::TooManyPrincipals));
        }
        Principal::new(msp_id, role).map_err(|e| ParseError::new(at, e))
    }
}

/// Parses a signature policy such as `AND('Org1MSP.peer', 'Org2MSP.peer')`.
pub(crate) fn parse_signature_policy(src: &str) -> Result<SignaturePolicy, ParseError> {
    Parser::new(src).policy()
}

fn meta_rule_of(word: &str) -> Option<MetaRule> {
    match word {
        "ALL" => Some(MetaRule::All),
        "ANY" => Some(MetaRule::Any),
        "MAJORITY" => Some(MetaRule::Majority),
        _ => None,
    }
}

/// Parses the ` SubPolicy` that follows an implicit meta rule word.
fn meta_rest(lexer: &mut Lexer<'_>, rule: MetaRule) -> Result<ImplicitMetaPolicy, ParseError> {
    let t = lexer.next()?;
    let name = match t.tok {
        Tok::Ident(name) | Tok::Number(name) => name,
        _ => {
            return Err(Parser::unexpected(
                t,
                "a sub-policy name, e.g. MAJORITY Endorsement",
            ));
        }
    };
    let meta = ImplicitMetaPolicy::new(rule, name).map_err(|e| ParseError::new(t.pos, e))?;
    expect_end(lexer)?;
    Ok(meta)
}

/// Parses `ANY|ALL|MAJORITY SubPolicy`.
pub(crate) fn parse_implicit_meta(src: &str) -> Result<ImplicitMetaPolicy, ParseError> {
    let mut lexer = Lexer::new(src);
    let t = lexer.next()?;
    match t.tok {
        Tok::Ident(word) => match meta_rule_of(word) {
            Some(rule) => meta_rest(&mut lexer, rule),
            None => Err(ParseError::new(
                t.pos,
                PolicyError::UnknownMetaRule {
                    rule: word.to_owned(),
                },
            )),
        },
        _ => Err(Parser::unexpected(t, "ANY, ALL or MAJORITY")),
    }
}

/// Parses either an implicit meta policy or a signature policy.
pub(crate) fn parse_channel_policy(src: &str) -> Result<ChannelPolicy, ParseError> {
    let mut lexer = Lexer::new(src);
    let first = lexer.next()?;
    let second = lexer.peek()?;
    if let Tok::Ident(word) = first.tok
        && second.tok != Tok::LParen
    {
        if let Some(rule) = meta_rule_of(word) {
            return meta_rest(&mut lexer, rule).map(ChannelPolicy::ImplicitMeta);
        }
        if gate_of(word).is_none() && matches!(second.tok, Tok::Ident(_) | Tok::End) {
            return Err(ParseError::new(
                first.pos,
                PolicyError::UnknownMetaRule {
                    rule: word.to_owned(),
                },
            ));
        }
    }
    parse_signature_policy(src).map(ChannelPolicy::Signature)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn err(src: &str) -> ParseError {
        parse_signature_policy(src).unwrap_err()
    }

    #[test]
    fn accepts_fabric_spellings_quotes_and_whitespace() {
        for src in [
            "AND('A.member', 'B.member')",
            "And('A.member','B.member')",
            "and ( \"A.member\" ,\n\t'B.member' )",
            "OutOf(2, 'A.member', 'B.member')",
            "outof(2,'A.member','B.member')",
            "OUTOF('2', 'A.member', 'B.member')",
        ] {
            assert!(parse_signature_policy(src).is_ok(), "{src}");
        }
        assert!(parse_signature_policy("Or('A.peer')").is_ok());
    }

    #[test]
    fn refuses_other_spellings() {
        assert!(matches!(
            err("oR('A.peer')").kind,
            PolicyError::UnknownGate { .. }
        ));
        assert!(matches!(
            err("Outof(1, 'A.peer')").kind,
            PolicyError::UnknownGate { .. }
        ));
        assert!(matches!(
            err("NOT('A.peer')").kind,
            PolicyError::UnknownGate { .. }
        ));
    }

    #[test]
    fn error_positions() {
        let e = err("AND('A.member', 'B.boss')");
        assert_eq!(e.position, 19);
        assert!(matches!(e.kind, PolicyError::UnknownRole { ref role, .. } if role == "boss"));

        let e = err("AND('A.member'");
        assert_eq!(e.position, 14);
        assert_eq!(e.kind, PolicyError::UnclosedParen { open: 3 });

        let e = err("AND('A.member'))");
        assert_eq!((e.position, e.kind), (15, PolicyError::UnmatchedCloseParen));

        let e = err("AND('A.member',)");
        assert_eq!(e.position, 15);
        assert!(matches!(e.kind, PolicyError::UnexpectedToken { .. }));

        let e = err("OR()");
        assert_eq!(e.position, 0);
        assert!(matches!(e.kind, PolicyError::EmptyGate { .. }));

        let e = err("OutOf(3, 'A.peer')");
        assert_eq!(e.position, 6);
        assert_eq!(e.kind, PolicyError::ThresholdOutOfRange { n: 3, rules: 1 });

        let e = err("OutOf(-1, 'A.peer')");
        assert_eq!(e.kind, PolicyError::ThresholdOutOfRange { n: -1, rules: 1 });

        let e = err("OutOf(1.5, 'A.peer')");
        assert!(matches!(e.kind, PolicyError::InvalidThreshold { .. }));

        let e = err("OR('A.member', Bmember)");
        assert_eq!(e.position, 15);
        assert!(matches!(e.kind, PolicyError::UnexpectedToken { .. }));

        let e = err("OR('A.member', B.member)");
        assert_eq!(e.position, 15);
        assert!(matches!(e.kind, PolicyError::UnquotedPrincipal { .. }));

        let e = err("OR('A.member' 'B.member')");
        assert_eq!(e.position, 14);

        let e = err("OR('A.member)");
        assert_eq!((e.position, e.kind), (3, PolicyError::UnterminatedString));

        let e = err("");
        assert_eq!(e.position, 0);
        assert!(matches!(e.kind, PolicyError::UnexpectedEnd { .. }));

        let e = err("'A.member'");
        assert!(matches!(e.kind, PolicyError::PrincipalAtRoot { .. }));

        let e = err("OR('A.member') OR('B.member')");
        assert_eq!(e.position, 15);
        assert!(matches!(e.kind, PolicyError::TrailingInput { .. }));

        let e = err("OR('A.member'; 'B.member')");
        assert_eq!(
            (e.position, e.kind),
            (13, PolicyError::UnexpectedCharacter { found: ';' })
        );
    }

    #[test]
    fn hostile_inputs_fail_cleanly() {
        let deep = "AND(".repeat(100_000);
        let e = err(&deep);
        assert_eq!(e.kind, PolicyError::TooDeep);
        assert_eq!(e.position, 4 * MAX_DEPTH);

        let mut nested = String::new();
        for _ in 0..MAX_DEPTH {
            nested.push_str("OR('A.member', ");
        }
        nested.push_str("'A.member'");
        nested.push_str(&")".repeat(MAX_DEPTH));
        assert!(parse_signature_policy(&nested).is_ok());

        let wide = format!("OutOf(1{})", ", 'A.member'".repeat(MAX_PRINCIPALS + 1));
        assert_eq!(err(&wide).kind, PolicyError::TooManyPrincipals);
        let wide = format!("OutOf(1{})", ", 'A.member'".repeat(2000));
        assert_eq!(
            parse_signature_policy(&wide).unwrap().principals().len(),
            2000
        );

        let long = format!("OR('{}.member')", "A".repeat(1_000_000));
        assert!(parse_signature_policy(&long).is_ok());
        assert!(matches!(
            err("ÄND('A.peer')").kind,
            PolicyError::UnexpectedCharacter { .. }
        ));
    }

    #[test]
    fn channel_policy_dispatch() {
        assert!(matches!(
            parse_channel_policy("MAJORITY Endorsement"),
            Ok(ChannelPolicy::ImplicitMeta(_))
        ));
        assert!(matches!(
            parse_channel_policy("  ANY   Readers "),
            Ok(ChannelPolicy::ImplicitMeta(_))
        ));
        assert!(matches!(
            parse_channel_policy("AND('A.peer')"),
            Ok(ChannelPolicy::Signature(_))
        ));
        let e = parse_channel_policy("majority Endorsement").unwrap_err();
        assert_eq!(e.position, 0);
        assert!(matches!(e.kind, PolicyError::UnknownMetaRule { .. }));
        let e = parse_channel_policy("MAJORITY").unwrap_err();
        assert_eq!(e.position, 8);
        assert!(matches!(e.kind, PolicyError::UnexpectedEnd { .. }));
        let e = parse_channel_policy("MAJORITY Endorsement Admins").unwrap_err();
        assert_eq!(e.position, 21);
        let e = parse_implicit_meta("AND('A.peer')").unwrap_err();
        assert!(matches!(e.kind, PolicyError::UnknownMetaRule { .. }));
    }
}
