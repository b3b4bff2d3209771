import { Migration } from '@mikro-orm/migrations'

/** core:0003_model_output_limit — a model's output token limit (budgets reserve it when a request sets no max_tokens). */
export class CoreModelOutputLimit extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table core_model add column max_output_tokens integer check (max_output_tokens > 0)')
  }
}
