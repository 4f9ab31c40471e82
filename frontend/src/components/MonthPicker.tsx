import { currentMonth } from '../format';
import { useI18n } from '../i18n';

/** A month field (`YYYY-MM`), at most the current month (the API refuses future months). */
export function MonthPicker({ id, value, onChange }: { id: string; value: string; onChange: (month: string) => void }) {
  const { t } = useI18n();
  return (
    <div>
      <label htmlFor={id}>{t('month')}</label>
      <input
        id={id}
        type="month"
        value={value}
        max={currentMonth()}
        pattern="\d{4}-\d{2}"
        required
        aria-describedby={`${id}-help`}
        onChange={(e) => {
          if (/^\d{4}-\d{2}$/.test(e.target.value)) onChange(e.target.value);
        }}
      />
      <span id={`${id}-help`} className="sr-only">
        {t('monthHelp')}
      </span>
    </div>
  );
}
