import { useI18n } from '../i18n';
import { href, type Route } from '../router';

/** The admin area's sub-navigation. */
export function AdminTabs({ current }: { current: Route['name'] }) {
  const { t } = useI18n();
  const tabs: { route: Route; label: string }[] = [
    { route: { name: 'admin' }, label: t('tabWorkspaces') },
    { route: { name: 'adminCosts' }, label: t('tabCosts') },
    { route: { name: 'adminBudgets' }, label: t('tabBudgets') },
    { route: { name: 'adminSchedule' }, label: t('tabSchedule') },
    { route: { name: 'adminDatasets' }, label: t('tabDatasets') },
    { route: { name: 'adminCatalog' }, label: t('tabCatalog') },
  ];
  return (
    <nav className="tabs" aria-label={t('adminSections')}>
      {tabs.map((tab) => (
        <a key={tab.route.name} href={href(tab.route)} aria-current={tab.route.name === current ? 'page' : undefined}>
          {tab.label}
        </a>
      ))}
    </nav>
  );
}
