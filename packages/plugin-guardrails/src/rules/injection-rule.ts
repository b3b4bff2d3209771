import type { GuardrailMatch, GuardrailRule } from './rule.js'

/**
 * A local prompt-injection and jailbreak scorer. Each feature is a phrase family that
 * jailbreaks and injected instructions use (overriding earlier instructions, persona set-ups
 * with "no restrictions", policy-evasion vocabulary, dual-answer formats, prompt extraction);
 * a prompt's score is the sum of the weights of the distinct features it contains, and it is
 * flagged at `threshold`. No network call, no model: one pass of a few precompiled regexes.
 */
export interface InjectionFeature {
  name: string
  weight: number
  re: RegExp
}

// Patterns are matched against the lower-cased text without the `i` flag (faster in V8), so
// their sources are lower-cased once here; they use no upper-case escapes (\\S, \\W, \\D, \\B).
const f = (name: string, weight: number, source: string): InjectionFeature => ({ name, weight, re: new RegExp(source.toLowerCase()) })

/** The scored features. Weights were tuned on the tuning half of the corpora only. */
export const FEATURES: readonly InjectionFeature[] = [
  f('override_instructions', 4, String.raw`\b(?:ignore|disregard|forget|override|bypass|skip|abandon|drop)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|preceding|former|initial|original|all|any|your|the|these|those)\b[^.\n]{0,25}\b(?:instructions?|rules|prompts?|directives?|guidelines|programming|constraints|restrictions|commands?|context|guidance|training|conversation)`),
  f('forget_everything', 3, String.raw`\b(?:forget|ignore|disregard) (?:everything|all(?: of)? (?:that|this|the above)|what (?:you|i) (?:were|was|have been) told)`),
  f('new_instructions', 2, String.raw`\b(?:new|updated|real|actual|secret|hidden) (?:instructions?|rules|directives?|task)\b|\binstead,? (?:you (?:will|must|should)|do|say|print|output|respond)\b`),
  f('dan_names', 4, String.raw`\bDAN\b|do anything now|\bjailbr(?:eak|oken)|\bdeveloper mode\b|\bdev mode\b|\bgod ?mode\b|\bDUDE\b|\bAIM\b|\bSTAN\b|\bmode enabled\b|\bunlocked mode\b|\bAntiGPT\b|\bBetterDAN\b|\bMongo Tom\b`),
  f('no_restrictions', 3, String.raw`\b(?:no|without|free (?:of|from)|beyond|freed from|not bound by|break(?:s|ing)? (?:free of|out of)|escape[sd]?|released from|any) (?:any |the |all |your |typical |usual |standard |normal |ethical |moral |content )*(?:restrictions?|limitations?|limits|filter(?:s|ing)?|censor(?:ship|ing)?|boundaries|constraints|rules|ethics|morals?|guidelines|polic(?:y|ies)|confines|safeguards|regulations)\b`),
  f('unfiltered', 2, String.raw`\b(?:unfiltered|uncensored|unrestricted|unbound|unlimited|unethical|amoral|immoral|unhinged|limitless|rule-?less)\b`),
  f('character', 2, String.raw`\b(?:stay(?:s|ing)?|remain|keep|kept) in character\b|\bbreak(?:ing)? character\b|\bout of character\b|\bin character\b`),
  f('persona', 1.5, String.raw`\b(?:you are (?:now |going to |about to |to )?(?:act|pretend|play|be|become|roleplay|role-play|simulate|immerse)|(?:act|behave|respond|answer|talk|speak|write) (?:as|like) (?:if you (?:were|are)|an?|my)\b|pretend (?:to be|you are|that you)|role-?play|take on the (?:role|persona)|(?:the|a) (?:persona|role) of|immerse yourself|your new (?:name|persona|role|identity))`),
  f('from_now_on', 1.5, String.raw`\bfrom now on\b|\bfrom this (?:point|moment) (?:on|forward)\b|\bhenceforth\b|\buntil I (?:say|tell you) (?:otherwise|to stop)\b`),
  f('policy_evasion', 3, String.raw`\bopenai(?:'s)? (?:content )?(?:polic(?:y|ies)|guidelines|rules|restrictions)\b|\bcontent polic(?:y|ies)\b|\bethical (?:guidelines|standards|principles|boundaries)\b|\bmoral (?:guidelines|standards|compass|principles)\b|\bsafety (?:guidelines|protocols|measures|filters)\b`),
  f('never_refuse', 3, String.raw`\b(?:never|cannot|can't|can not|won't|will not|must not|mustn't|don't|do not|shall not|not allowed to|unable to) (?:ever )?(?:refuse|decline|reject|deny)\b|\b(?:always|must) (?:answer|respond|reply|comply|provide an answer)\b|\bno matter (?:what|how)\b|\bregardless of (?:how|the|whether|legality|morality|ethics)`),
  f('no_disclaimers', 2.5, String.raw`\b(?:no|without|never (?:add|include|give|use)|don't (?:add|include|give)|do not (?:add|include|give)|omit|skip)(?: any)? (?:warnings?|disclaimers?|caveats|apolog(?:y|ies|ize)|moraliz(?:ing|e)|lectur(?:es|ing)|reminders)\b`),
  f('as_an_ai', 1.5, String.raw`\bas an ai(?: language model)?\b|\blanguage model\b|\bchatgpt\b|\bopenai\b|\bgpt-?[34]\b|\ban? (?:ai|artificial intelligence)\b`),
  f('prompt_extraction', 3, String.raw`\b(?:reveal|print|show|repeat|output|display|tell me|give me|leak|share|disclose|what (?:is|are|was|were))\b[^.\n]{0,30}\b(?:your|the) (?:(?:full|entire|original|initial|hidden|secret|exact) )*(?:system (?:prompt|message|instructions?)|instructions|initial prompt|pre-?prompt|prompt|configuration|rules)\b`),
  f('dual_response', 2.5, String.raw`\btwo (?:different |separate |distinct )?(?:ways|responses|answers|paragraphs|personalities)\b|\[(?:🔒|🔓|GPT|CLASSIC|JAILBREAK|DAN|AntiGPT|ChatGPT)[^\]]{0,20}\]|\b(?:normal|classic|standard) (?:response|answer|mode)\b.{0,200}\b(?:jailbroken|unfiltered|alternative|opposite)\b`),
  f('harm_vocab', 1, String.raw`\b(?:illegal|unethical|harmful|offensive|explicit|nsfw|violent|dangerous|inappropriate|malicious|profanity|swear(?:s|ing)?|curse words|racist|sexual)\b`),
  f('obey', 1.5, String.raw`\b(?:obey|comply with|follow) (?:every|all|any|my|the user'?s?)\b|\bwhatever (?:i|the user) (?:say|ask|want|request)s?\b|\bdo (?:anything|everything|whatever)\b`),
  f('simulation', 1, String.raw`\b(?:simulat(?:e|ion|ing)|hypothetical(?:ly)?|fictional (?:world|scenario|universe)|virtual machine|alternate universe|opposite (?:mode|day))\b`),
  f('tokens_game', 1.5, String.raw`\b(?:lose|lost|deduct(?:ed)?|gain|earn|have) (?:\d+ |all |your |some )?(?:tokens|points|lives)\b|\btoken system\b`),
  f('hijack_print', 3, String.raw`\b(?:just|only|simply) (?:print|say|output|respond with|reply with|write)\s*["“:]|\bprint (?:out )?["“][^"”]{1,100}["”]\s*:?\s*$`),
  f('system_tag', 2.5, String.raw`\[(?:system|admin|sudo|root|developer)\]|<\/?(?:system|im_start|im_end)>|\bsystem (?:override|mode|prompt)\b|\badmin(?:istrator)? (?:mode|override|access)\b|\bsudo mode\b|\bdebug mode\b|\bmaintenance mode\b`),
  f('you_are_now', 2, String.raw`\byou are now\b|\bnow you (?:are|act|will|must)\b|\byou (?:will|shall) (?:now )?(?:act|be|become|pretend|respond as)\b|\bplay (?:\d+|two|three|both) (?:characters|roles|entities)\b|\btwo entities\b`),
  f('persona_sheet', 2, String.raw`\bpersonality\b|\bpersona\b|\((?:USER|CHARACTER|ASSISTANT|BACKGROUND)[A-Z ]*\)\s*=\s*\[|\+:\s*(?:User|Assistant|Personality)\s*=|\bAwait (?:\[?INPUT\]?|input)\b|\bcharacter (?:name|description|persona)\b`),
  f('your_programming', 2, String.raw`\byour (?:programming|coding|training data|restrictions|filters|guidelines|limitations|creators?|developers?|safeguards)\b|\b(?:reprogram|modify|modifying|rewrite) (?:your|its) (?:programming|code|rules)\b`),
  f('only_answer', 1, String.raw`\b(?:you will |you must |you should )?only (?:answer|respond|reply|talk|speak|output)\b|\bnothing else\b|\bdo not (?:add|write|include) (?:any )?(?:commentary|explanations?|notes)\b`),
  f('nsfw_allowed', 2, String.raw`\b(?:nsfw|explicit|lewd|graphic|violent|illegal)[^.\n]{0,30}\b(?:allowed|permitted|enabled|ok|fine|acceptable)\b|\b(?:allowed|permitted) to (?:say|write|generate|produce) (?:anything|everything)\b`),
  f('template_slot', 3, String.raw`[\[<{(]\s*(?:insert|your|put|enter|add|write)(?: your| the| a)? (?:prompt|question|request|query|topic|text|message|scenario|thing)[^\]>})]{0,40}[\]>})]|<thing to[^>]{0,40}>|\[PROMPT\]|\{prompt\}|\$\{?prompt\}?`),
  f('free_itself', 2, String.raw`\bfree(?:s|d)? (?:itself|yourself|himself|herself|themselves|you)\b|\b(?:broken|break) (?:free|out) of\b|\bescape (?:the )?(?:matrix|confines|prison)\b`),
  f('dangerous_topics', 1, String.raw`\b(?:hack(?:ing|er)?|exploit|malware|ransomware|weapons?|bombs?|explosives?|drugs?|meth(?:amphetamine)?|synthesi[sz]e|poison|kill(?:ing)? (?:people|someone|humans)|phishing|scam)\b`),
  f('respond_format_persona', 1.5, String.raw`\b(?:start|begin|prefix|preface)(?:s)? (?:every|each|all|your) (?:response|answer|reply|message|output)s? with\b|\b(?:respond|reply|answer) (?:only )?(?:as|in the (?:style|voice) of)\b`),
]

/**
 * Every feature in one alternation, each in its own capture group, so the text is walked once
 * instead of once per feature, starting only at word boundaries and opening brackets (V8 tries the alternatives at each position with a first-character
 * quick check). After a hit the walk resumes one character later, and the features after the hit
 * one are tried at the same position with sticky copies, so the set of features found is exactly
 * the set that would match on their own.
 */
const GROUP_OF: number[] = []
const COMBINED = (() => {
  let group = 1
  const parts: string[] = []
  for (const feature of FEATURES) {
    GROUP_OF.push(group)
    parts.push(`(${feature.re.source})`)
    // Capturing groups inside a feature shift the numbering of the next one.
    group += new RegExp(`${feature.re.source}|`).exec('')!.length
  }
  // Every feature starts at the start of a word or at one of these punctuation marks: asserting
  // that first lets V8 skip most positions with one check instead of trying every alternative.
  return new RegExp(`(?:(?<![a-z0-9_])(?=[a-z0-9_])|(?=[\\[<{(+$]))(?:${parts.join('|')})`, 'g')
})()
const STICKY = FEATURES.map((feature) => new RegExp(feature.re.source, 'y'))

/**
 * The score of a text: sum of the weights of distinct features it contains. `lower` is the text
 * lower-cased (computed when not given). With `enough`, the walk stops as soon as the score
 * reaches it (a rule only needs to know whether the threshold is reached).
 */
export function injectionScore(text: string, lower = text.toLowerCase(), enough = Number.POSITIVE_INFINITY): number {
  const seen = new Uint8Array(FEATURES.length)
  let score = 0
  COMBINED.lastIndex = 0
  let m: RegExpExecArray | null
  // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
  while ((m = COMBINED.exec(lower)) !== null) {
    let hit = 0
    while (m[GROUP_OF[hit]] === undefined) hit++
    for (let k = hit; k < FEATURES.length; k++) {
      if (seen[k]) continue
      if (k !== hit) {
        STICKY[k].lastIndex = m.index
        if (!STICKY[k].test(lower)) continue
      }
      seen[k] = 1
      score += FEATURES[k].weight
    }
    if (score >= enough) return score
    COMBINED.lastIndex = m.index + 1
  }
  return score
}

/** Default score at which a prompt is flagged. */
export const DEFAULT_INJECTION_THRESHOLD = 3

/** Builds the prompt-injection rule; a flagged prompt's match is the whole text (redaction replaces it). */
export function injectionRule(threshold = DEFAULT_INJECTION_THRESHOLD): GuardrailRule {
  return {
    id: 'injection.prompt',
    category: 'injection',
    placeholder: '[PROMPT_INJECTION]',
    defaultAction: 'block',
    defaultScope: { input: true, output: false },
    roles: ['user', 'tool'],
    maxMatchLength: 0,
    scan(text, lower): GuardrailMatch[] {
      return text.length > 0 && injectionScore(text, lower, threshold) >= threshold ? [{ start: 0, end: text.length }] : []
    },
  }
}
