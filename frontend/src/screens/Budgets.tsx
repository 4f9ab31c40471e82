import { useState } from 'react';
import { ApiError, BUDGET_POLICIES, type Budget, type BudgetInput, type BudgetPolicy, type OrgBudget } from '../api';
import { useAction } from '../action';
import { useApp } from '../app-context';
import { AdminTabs } from '../components/AdminTabs';
import { ErrorMessage, Loading } from '../components/common';
import { currentMonth } from '../format';
import { useI18n, type Key } from '../i18n';
import { formatMoney } from '../money';
import { useLoad } from '../poll';

const POLICY_LABEL: Record<BudgetPolicy, Key> = { notify: 'policyNotify', 'stop-at-100': 'policyStop' };

/** "300", "300.5", "300,50" → "300.00"-like decimal string; "" → null; anything else throws. */
export function normaliseAmount(input: string): string | null {
  const s = input.trim().replace(/\s/g, '').replace(',', '.');
  if (s === '') return null;
  if (!/^\d+(\.\d{1,2})?$/.test(s)) throw new Error('amount');
  return s;
}

/** "80, 100" → [80, 100]; throws on anything but whole percentages. */
export function parseThresholds(input: string): number[] {
  const parts = input.split(/[,;\s]+/).filter(Boolean);
  const values = parts.map((p) => {
    if (!/^\d{1,3}$/.test(p)) throw new Error('thresholds');
    return Number(p);
  });
  return [...new Set(values)].sort((a, b) => a - b);
}

/** The form shared by a user's budget and the organisation default. */
export function BudgetForm({
  idPrefix,
  initial,
  currency,
  amountLabel,
  amountHelp,
  onSave,
}: {
  idPrefix: string;
  initial: { amount: string | null; thresholds: number[]; policy: BudgetPolicy };
  currency: string;
  amountLabel: string;
  amountHelp: string;
  onSave: (input: BudgetInput) => Promise<void>;
}) {
  const { t } = useI18n();
  const [amount, setAmount] = useState(initial.amount ?? '');
  const [thresholds, setThresholds] = useState(initial.thresholds.join(', '));
  const [policy, setPolicy] = useState<BudgetPolicy>(initial.policy);
  const { busy, error, saved, run } = useAction();
  const field = error instanceof ApiError ? error.problem?.field : undefined;

  const submit = () =>
    run(async () => {
      let input: BudgetInput;
      try {
        input = { amount: normaliseAmount(amount), thresholds: parseThresholds(thresholds), policy };
      } catch (e) {
        throw new Error(t((e as Error).message === 'amount' ? 'invalidAmount' : 'invalidThresholds'));
      }
      await onSave(input);
    });

  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label htmlFor={`${idPrefix}-amount`}>{t('budgetAmountLabel', { label: amountLabel, currency })}</label>
      <input
        id={`${idPrefix}-amount`}
        inputMode="decimal"
        value={amount}
        aria-describedby={`${idPrefix}-amount-help`}
        aria-invalid={field === 'amount' || undefined}
        onChange={(e) => setAmount(e.target.value)}
      />
      <p id={`${idPrefix}-amount-help`} className="help">
        {amountHelp}
      </p>
      <label htmlFor={`${idPrefix}-thresholds`}>{t('thresholdsLabel')}</label>
      <input
        id={`${idPrefix}-thresholds`}
        value={thresholds}
        aria-describedby={`${idPrefix}-thresholds-help`}
        aria-invalid={field === 'thresholds' || undefined}
        onChange={(e) => setThresholds(e.target.value)}
      />
      <p id={`${idPrefix}-thresholds-help`} className="help">
        {t('thresholdsHelp')}
      </p>
      <fieldset>
        <legend>{t('policyLabel')}</legend>
        {BUDGET_POLICIES.map((p) => (
          <label key={p} className="radio">
            <input type="radio" name={`${idPrefix}-policy`} value={p} checked={policy === p} onChange={() => setPolicy(p)} />
            <span>{t(POLICY_LABEL[p])}</span>
          </label>
        ))}
      </fieldset>
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? t('saving') : t('save')}
        </button>
      </div>
      {saved && (
        <p className="notice" role="status">
          {t('saved')}
        </p>
      )}
      {error !== null && <ErrorMessage error={error} />}
    </form>
  );
}

function OrgBudgetPanel() {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const { data, error, loading, reload, setData } = useLoad<OrgBudget>(() => api.orgBudget(), [api]);
  return (
    <section className="panel" aria-labelledby="org-budget-title">
      <h2 id="org-budget-title">{t('orgBudgetTitle')}</h2>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {loading && data === null && <Loading />}
      {data !== null && (
        <>
          <p data-testid="org-budget-current">
            {data.amount === null ? t('orgBudgetNone') : t('orgBudgetCurrent', { amount: formatMoney(data.amount, data.currency, locale) })}
          </p>
          <BudgetForm
            idPrefix="org-budget"
            initial={data}
            currency={data.currency}
            amountLabel={t('orgBudgetAmount')}
            amountHelp={t('orgBudgetAmountHelp')}
            onSave={async (input) => setData(await api.setOrgBudget(input))}
          />
        </>
      )}
    </section>
  );
}

function describeBudget(b: Budget, t: (k: Key, p?: Record<string, string | number>) => string, locale: string): string {
  if (b.effective === null) return t('budgetNoneAtAll');
  const effective = formatMoney(b.effective, b.currency, locale);
  return b.inherited ? t('budgetInherited', { amount: effective }) : t('budgetOwn', { amount: effective });
}

function UserBudgetPanel() {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const users = useLoad(async () => (await api.usersCosts(currentMonth())).users.map((u) => u.user).sort(), [api]);
  const [typed, setTyped] = useState('');
  const [user, setUser] = useState<string | null>(null);
  const budget = useLoad<Budget | null>(() => (user ? api.budget(user) : Promise.resolve(null)), [api, user]);

  return (
    <section className="panel" aria-labelledby="user-budget-title">
      <h2 id="user-budget-title">{t('userBudgetTitle')}</h2>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          const u = typed.trim();
          if (u) setUser(u);
        }}
      >
        <div>
          <label htmlFor="budget-user">{t('budgetUser')}</label>
          <input
            id="budget-user"
            list="budget-users"
            value={typed}
            required
            autoComplete="off"
            aria-describedby="budget-user-help"
            onChange={(e) => setTyped(e.target.value)}
          />
          <datalist id="budget-users">
            {(users.data ?? []).map((u) => (
              <option key={u} value={u} />
            ))}
          </datalist>
        </div>
        <button type="submit">{t('budgetOpen')}</button>
      </form>
      <p id="budget-user-help" className="help">
        {t('budgetUserHelp')}
      </p>
      {users.error !== null && <ErrorMessage error={users.error} onRetry={() => void users.reload()} />}
      {user !== null && (
        <>
          {budget.error !== null && <ErrorMessage error={budget.error} onRetry={() => void budget.reload()} />}
          {budget.loading && budget.data === null && <Loading />}
          {budget.data && (
            <div data-testid="user-budget" data-user={budget.data.user}>
              <h3>{budget.data.user}</h3>
              <p data-testid="user-budget-state">{describeBudget(budget.data, t, locale)}</p>
              <BudgetForm
                key={budget.data.user}
                idPrefix="user-budget"
                initial={budget.data}
                currency={budget.data.currency}
                amountLabel={t('userBudgetAmount')}
                amountHelp={t('userBudgetAmountHelp')}
                onSave={async (input) => budget.setData(await api.setBudget(budget.data!.user, input))}
              />
            </div>
          )}
        </>
      )}
    </section>
  );
}

/** Admin: the organisation's default monthly budget and each user's own. */
export function Budgets() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t('budgetsTitle')}</h1>
      <AdminTabs current="adminBudgets" />
      <p>{t('budgetsIntro')}</p>
      <div className="grid2">
        <OrgBudgetPanel />
        <UserBudgetPanel />
      </div>
    </section>
  );
}
