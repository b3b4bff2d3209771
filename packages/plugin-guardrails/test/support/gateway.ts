import { createTestGateway, type TestGateway } from '@tollgate/core/testing'
import { startFakeAnthropic, type FakeAnthropic } from '../../../core/test/support/fake-anthropic.ts'
import { startFakeOpenAI, type FakeOpenAI } from '../../../core/test/support/fake-openai.ts'
import { guardrailsPlugin, type GuardrailsPluginConfig } from '../../src/index.ts'

/** A gateway with the guardrails plugin in front of fake OpenAI and Anthropic upstreams. */
export interface GuardedGateway {
  gw: TestGateway
  url: string
  fakeOpenAI: FakeOpenAI
  fakeAnthropic: FakeAnthropic
  close(): Promise<void>
}

export async function startGuardedGateway(config: GuardrailsPluginConfig = {}, extra: { plugins?: any[] } = {}): Promise<GuardedGateway> {
  const fakeOpenAI = await startFakeOpenAI()
  const fakeAnthropic = await startFakeAnthropic()
  const gw = await createTestGateway({
    plugins: [...(extra.plugins ?? []), guardrailsPlugin(config as Record<string, unknown>)],
    config: {
      providers: [
        { id: 'oai', kind: 'openai', baseUrl: fakeOpenAI.baseUrl, apiKey: 'sk-upstream' },
        { id: 'anth', kind: 'anthropic', baseUrl: fakeAnthropic.baseUrl, apiKey: 'sk-upstream' },
      ],
      models: [
        { name: 'gpt-fake', provider: 'oai', upstreamModel: 'gpt-4o-mini', prices: { input: '1', output: '2' } },
        { name: 'claude-fake', provider: 'anth', upstreamModel: 'claude-sonnet-4', prices: { input: '1', output: '2' } },
      ],
    },
  })
  const url = await gw.listen({ port: 0, host: '127.0.0.1' })
  return {
    gw,
    url,
    fakeOpenAI,
    fakeAnthropic,
    async close() {
      await gw.close()
      await fakeOpenAI.close()
      await fakeAnthropic.close()
    },
  }
}
